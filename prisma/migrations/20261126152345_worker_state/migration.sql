-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "github_deployment_id" BIGINT;

-- CreateTable
CREATE TABLE "pull_request_states" (
    "repository_full_name" TEXT NOT NULL,
    "pr_number" INTEGER NOT NULL,
    "installation_id" BIGINT,
    "last_event_at" TIMESTAMPTZ(6),
    "comment_id" BIGINT,
    "approved_sha" TEXT,
    "held_sha" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pull_request_states_pkey" PRIMARY KEY ("repository_full_name","pr_number")
);
