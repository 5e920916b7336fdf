using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Consumers.Runtime.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Pipelines : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<Guid>(
                name: "pipeline_id",
                table: "jobs",
                type: "uuid",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "result",
                table: "jobs",
                type: "jsonb",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "pipelines",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    source = table.Column<string>(type: "character varying(4096)", maxLength: 4096, nullable: false),
                    request = table.Column<string>(type: "jsonb", nullable: false),
                    step_count = table.Column<int>(type: "integer", nullable: false),
                    failed_step = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    error_code = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    error_message = table.Column<string>(type: "text", nullable: true),
                    cancel_requested_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    cancel_reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    cancel_by = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    last_event_seq = table.Column<long>(type: "bigint", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    finished_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pipelines", x => x.id);
                    table.CheckConstraint("ck_pipelines_status", "status IN ('running','succeeded','failed','cancelled')");
                });

            migrationBuilder.CreateTable(
                name: "pipeline_events",
                columns: table => new
                {
                    pipeline_id = table.Column<Guid>(type: "uuid", nullable: false),
                    seq = table.Column<long>(type: "bigint", nullable: false),
                    type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    step = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    job_id = table.Column<Guid>(type: "uuid", nullable: true),
                    occurred_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    data = table.Column<string>(type: "jsonb", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pipeline_events", x => new { x.pipeline_id, x.seq });
                    table.CheckConstraint("ck_pipeline_events_seq", "seq >= 1");
                    table.ForeignKey(
                        name: "FK_pipeline_events_pipelines_pipeline_id",
                        column: x => x.pipeline_id,
                        principalTable: "pipelines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "pipeline_steps",
                columns: table => new
                {
                    pipeline_id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    ord = table.Column<int>(type: "integer", nullable: false),
                    stage = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    job_id = table.Column<Guid>(type: "uuid", nullable: false),
                    depends_on = table.Column<string[]>(type: "text[]", nullable: false),
                    ancestors = table.Column<string[]>(type: "text[]", nullable: false),
                    request = table.Column<string>(type: "jsonb", nullable: false),
                    max_attempts = table.Column<int>(type: "integer", nullable: false),
                    state = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    reason = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_pipeline_steps", x => new { x.pipeline_id, x.name });
                    table.CheckConstraint("ck_pipeline_steps_state", "state IN ('waiting','dispatched','succeeded','failed','cancelled','skipped')");
                    table.ForeignKey(
                        name: "FK_pipeline_steps_pipelines_pipeline_id",
                        column: x => x.pipeline_id,
                        principalTable: "pipelines",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_jobs_pipeline_id",
                table: "jobs",
                column: "pipeline_id",
                filter: "pipeline_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_pipeline_steps_job_id",
                table: "pipeline_steps",
                column: "job_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_pipelines_running",
                table: "pipelines",
                column: "created_at",
                filter: "status = 'running'");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "pipeline_events");

            migrationBuilder.DropTable(
                name: "pipeline_steps");

            migrationBuilder.DropTable(
                name: "pipelines");

            migrationBuilder.DropIndex(
                name: "ix_jobs_pipeline_id",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "pipeline_id",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "result",
                table: "jobs");
        }
    }
}
