-- Pull requests are keyed on GitHub's numeric repository id, which a rename or transfer keeps; the full name stays
-- as data. Rows made before this migration have no id (GitHub is not asked here): the worker matches them by full
-- name until their next event records the id.
-- DropIndex
DROP INDEX "environments_repository_full_name_pr_number_key";

-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "reported_state" TEXT;

-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "repository_id" BIGINT;

-- AlterTable
ALTER TABLE "pull_request_states" DROP CONSTRAINT "pull_request_states_pkey",
ADD COLUMN     "comment_digest" TEXT,
ADD COLUMN     "id" BIGSERIAL NOT NULL,
ADD COLUMN     "last_head_sha" TEXT,
ADD COLUMN     "last_pr_state" TEXT,
ADD COLUMN     "note" TEXT,
ADD COLUMN     "repository_id" BIGINT,
ADD CONSTRAINT "pull_request_states_pkey" PRIMARY KEY ("id");

-- CreateIndex
CREATE INDEX "environments_repository_full_name_pr_number_idx" ON "environments"("repository_full_name", "pr_number");

-- CreateIndex
CREATE UNIQUE INDEX "environments_repository_id_pr_number_key" ON "environments"("repository_id", "pr_number");

-- CreateIndex
CREATE INDEX "pull_request_states_repository_full_name_pr_number_idx" ON "pull_request_states"("repository_full_name", "pr_number");

-- CreateIndex
CREATE UNIQUE INDEX "pull_request_states_repository_id_pr_number_key" ON "pull_request_states"("repository_id", "pr_number");


-- Deployments finished before reported_state was kept were reported then: they are not reported again.
UPDATE "deployments" SET "reported_state" = 'reported before reported_state was kept' WHERE "status" IN ('SUCCESS', 'FAILED');
