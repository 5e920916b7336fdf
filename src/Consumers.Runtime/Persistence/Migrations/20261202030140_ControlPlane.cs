using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Consumers.Runtime.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class ControlPlane : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs");

            migrationBuilder.AddColumn<string>(
                name: "cancel_by",
                table: "jobs",
                type: "character varying(128)",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "cancel_reason",
                table: "jobs",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "cancel_requested_at",
                table: "jobs",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "operator_actions",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()"),
                    action = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    target = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    by = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    outcome = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_operator_actions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "stage_pauses",
                columns: table => new
                {
                    stage = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    paused_by = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    paused_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false, defaultValueSql: "now()")
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stage_pauses", x => x.stage);
                });

            migrationBuilder.CreateIndex(
                name: "ix_jobs_cancel_pending",
                table: "jobs",
                column: "cancel_requested_at",
                filter: "cancel_requested_at IS NOT NULL AND status IN ('queued', 'processing')");

            migrationBuilder.CreateIndex(
                name: "ix_jobs_finished_at",
                table: "jobs",
                column: "finished_at",
                filter: "status IN ('succeeded', 'failed', 'cancelled')");

            migrationBuilder.AddCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs",
                sql: "status IN ('queued','processing','succeeded','failed','cancelled')");

            migrationBuilder.CreateIndex(
                name: "ix_operator_actions_at",
                table: "operator_actions",
                column: "at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "operator_actions");

            migrationBuilder.DropTable(
                name: "stage_pauses");

            migrationBuilder.DropIndex(
                name: "ix_jobs_cancel_pending",
                table: "jobs");

            migrationBuilder.DropIndex(
                name: "ix_jobs_finished_at",
                table: "jobs");

            migrationBuilder.DropCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "cancel_by",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "cancel_reason",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "cancel_requested_at",
                table: "jobs");

            migrationBuilder.AddCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs",
                sql: "status IN ('queued','processing','succeeded','failed')");
        }
    }
}
