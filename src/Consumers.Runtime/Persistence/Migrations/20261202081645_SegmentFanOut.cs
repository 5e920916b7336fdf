using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Consumers.Runtime.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SegmentFanOut : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs");

            migrationBuilder.AddColumn<Guid>(
                name: "parent_job_id",
                table: "jobs",
                type: "uuid",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_jobs_parent_job_id",
                table: "jobs",
                column: "parent_job_id",
                filter: "parent_job_id IS NOT NULL");

            migrationBuilder.AddCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs",
                sql: "status IN ('queued','processing','waiting','succeeded','failed','cancelled')");

            migrationBuilder.AddForeignKey(
                name: "FK_jobs_jobs_parent_job_id",
                table: "jobs",
                column: "parent_job_id",
                principalTable: "jobs",
                principalColumn: "id",
                onDelete: ReferentialAction.Cascade);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "FK_jobs_jobs_parent_job_id",
                table: "jobs");

            migrationBuilder.DropIndex(
                name: "ix_jobs_parent_job_id",
                table: "jobs");

            migrationBuilder.DropCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs");

            migrationBuilder.DropColumn(
                name: "parent_job_id",
                table: "jobs");

            migrationBuilder.AddCheckConstraint(
                name: "ck_jobs_status",
                table: "jobs",
                sql: "status IN ('queued','processing','succeeded','failed','cancelled')");
        }
    }
}
