-- The deploy gate (deploy.wait_for): deployments WAIT for their commit's checks before they are applied, and
-- remember what they wait for; redeploys restart the rollout. Check events find deployments by commit.
-- AlterEnum
ALTER TYPE "deployment_status" ADD VALUE 'WAITING';

-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "gate_checks" JSONB,
ADD COLUMN     "gate_deadline" TIMESTAMPTZ(6),
ADD COLUMN     "gate_failed" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "gate_waiting_for" TEXT,
ADD COLUMN     "restart" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "waiting_since" TIMESTAMPTZ(6);

-- CreateIndex
CREATE INDEX "deployments_commit_sha_idx" ON "deployments"("commit_sha");
