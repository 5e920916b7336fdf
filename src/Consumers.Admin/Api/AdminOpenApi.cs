using Consumers.Admin.Access;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Consumers.Admin.Api;

/// <summary>Names the API and declares its two ways to authenticate in the OpenAPI document.</summary>
public sealed class AdminOpenApi : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Consumers admin API",
            Version = "v1",
            Description = "Find jobs, read their timelines, and cancel, requeue, pause, resume and replay through the runtime's control actions. " +
                          "Every request needs a credential from Consumers:Admin (read-only Viewers or Operators); actions need an operator (403 otherwise). " +
                          "Errors are RFC 9457 problem details; a 400 names the field in 'errors'.",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = AdminCredentials.ApiKeyHeader,
            Description = "A key from Consumers:Admin:Viewers or Consumers:Admin:Operators",
        };
        document.Components.SecuritySchemes["basic"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "basic",
            Description = "The credential's name as user, its key as password",
        };
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("basic", document)] = [] },
        ];
        return Task.CompletedTask;
    }
}
