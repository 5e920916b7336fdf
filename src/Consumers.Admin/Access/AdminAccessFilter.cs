using Microsoft.AspNetCore.Http;

namespace Consumers.Admin.Access;

/// <summary>
/// Admits a request to an API endpoint: 401 without a known credential, 403 when the endpoint needs an operator and
/// the credential is read-only. The caller is kept on the request for the handlers (<see cref="Caller"/>).
/// </summary>
public sealed class AdminAccessFilter(AdminRole required) : IEndpointFilter
{
    private const string CallerItem = "consumers.admin.caller";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = http.RequestServices.GetService(typeof(AdminCredentials)) is AdminCredentials credentials ? credentials.Identify(http.Request) : null;
        if (caller is null)
        {
            // Not "Basic": a browser would pop its own login dialog over the dashboard's.
            http.Response.Headers.WWWAuthenticate = $"ApiKey header=\"{AdminCredentials.ApiKeyHeader}\"";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Authentication required",
                detail: $"Send a key in the {AdminCredentials.ApiKeyHeader} header, or basic authentication with the credential's name and key.");
        }

        if (required == AdminRole.Operator && caller.Role != AdminRole.Operator)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Read-only credential",
                detail: $"'{caller.Name}' may look but not act; actions need a credential under Consumers:Admin:Operators.");
        }

        http.Items[CallerItem] = caller;
        return await next(context);
    }

    /// <summary>The caller this filter admitted.</summary>
    public static AdminCaller Caller(HttpContext http) =>
        http.Items[CallerItem] as AdminCaller ?? throw new InvalidOperationException("the endpoint has no access filter");
}
