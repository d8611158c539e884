-- Who last asked for a redeploy or a destroy of the environment from the dashboard or the write API (the worker
-- sets them when it applies the action). All nullable: environments nobody acted on have none.
-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "last_action" TEXT,
ADD COLUMN     "last_action_at" TIMESTAMPTZ(6),
ADD COLUMN     "last_action_by" TEXT,
ADD COLUMN     "last_action_kind" TEXT;
