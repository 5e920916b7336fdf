# syntax=docker/dockerfile:1
# The Consumers worker. Built from the repository root:
#   docker build -f compose/worker.Dockerfile -t consumers-worker .
# (compose/docker-compose.yml does this with context "..").

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Restore first, from the project files only, so source edits reuse the cached packages.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet restore src/Consumers.Worker
RUN dotnet publish src/Consumers.Worker -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
# ffmpeg/ffprobe do the media work.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    Consumers__Database__ConnectionString="Host=postgres;Port=5432;Database=consumers;Username=consumers;Password=consumers" \
    Consumers__RabbitMq__Host=rabbitmq \
    Consumers__RabbitMq__Port=5672 \
    Consumers__RabbitMq__Username=consumers \
    Consumers__RabbitMq__Password=consumers \
    Consumers__Telemetry__MetricsPort=9464
EXPOSE 9464
# The folders compose mounts its volumes on, owned by the worker's user: a new named volume takes the
# ownership of the folder it is mounted on, so the non-root worker can write artifacts and scratch.
RUN mkdir -p /data/media /data/artifacts /data/scratch \
 && chown -R "$APP_UID" /data/artifacts /data/scratch
ENV Consumers__Telemetry__MetricsAddress=0.0.0.0 \
    Consumers__Artifacts__Root=/data/artifacts \
    Consumers__Artifacts__MediaRoots__0=/data/media \
    Consumers__Scratch__Root=/data/scratch
# Non-root user provided by the .NET images.
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/consumers.dll", "run"]
