-- The environments' API JSON renders these columns: the migrator's rollback leaves those fields out of the render
-- function until the next migrate puts them back (packages/db/src/migrate/sync-api-json.ts).
-- AlterTable
ALTER TABLE "public"."environments" DROP COLUMN "last_action",
DROP COLUMN "last_action_at",
DROP COLUMN "last_action_by",
DROP COLUMN "last_action_kind";
