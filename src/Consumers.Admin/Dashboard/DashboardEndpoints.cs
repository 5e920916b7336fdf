using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Consumers.Admin.Dashboard;

/// <summary>
/// Serves the dashboard: plain HTML, CSS and JavaScript embedded in this assembly, so it needs no front-end build,
/// no CDN and no internet. The files hold no data and need no credential; every number they show comes from the
/// API, which does.
/// </summary>
public static class DashboardEndpoints
{
    private const string Prefix = "dashboard/";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    public static void Map(IEndpointRouteBuilder app)
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        app.MapGet("/", () => File(assembly, "index.html")).ExcludeFromDescription();
        app.MapGet("/dashboard/{file}", (string file) => File(assembly, file)).ExcludeFromDescription();
    }

    private static IResult File(Assembly assembly, string name)
    {
        var stream = assembly.GetManifestResourceStream(Prefix + name);
        if (stream is null || !ContentTypes.TryGetValue(Path.GetExtension(name), out var contentType))
        {
            stream?.Dispose();
            return TypedResults.NotFound();
        }

        return TypedResults.Stream(stream, contentType);
    }
}
