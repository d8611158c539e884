-- A deployment still waiting for its checks cannot be represented without WAITING: it ends as FAILED (a push or a
-- redeploy queues the commit again).
UPDATE "deployments" SET "status" = 'FAILED', "error_message" = 'the deploy gate was rolled back while this deployment waited', "completed_at" = now()
 WHERE "status" = 'WAITING';

-- AlterEnum
CREATE TYPE "public"."deployment_status_new" AS ENUM ('QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILED');
ALTER TABLE "deployments" ALTER COLUMN "status" DROP DEFAULT;
ALTER TABLE "public"."deployments" ALTER COLUMN "status" TYPE "public"."deployment_status_new" USING ("status"::text::"public"."deployment_status_new");
ALTER TYPE "public"."deployment_status" RENAME TO "deployment_status_old";
ALTER TYPE "public"."deployment_status_new" RENAME TO "deployment_status";
DROP TYPE "deployment_status_old";
ALTER TABLE "public"."deployments" ALTER COLUMN "status" SET DEFAULT 'QUEUED';

-- DropIndex
DROP INDEX "public"."deployments_commit_sha_idx";

-- AlterTable
ALTER TABLE "public"."deployments" DROP COLUMN "gate_checks",
DROP COLUMN "gate_deadline",
DROP COLUMN "gate_failed",
DROP COLUMN "gate_waiting_for",
DROP COLUMN "restart",
DROP COLUMN "waiting_since";
