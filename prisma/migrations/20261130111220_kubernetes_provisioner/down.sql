-- DropIndex
DROP INDEX "public"."environments_repository_full_name_waiting_since_idx";

-- AlterTable
ALTER TABLE "public"."environments" DROP COLUMN "base_sha",
DROP COLUMN "destroy_requested_at",
DROP COLUMN "from_fork",
DROP COLUMN "waiting_since";
