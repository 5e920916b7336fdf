using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Consumers.Runtime.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class JobPriority : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "priority",
                table: "jobs",
                type: "integer",
                nullable: false,
                defaultValue: 5);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "priority",
                table: "jobs");
        }
    }
}
