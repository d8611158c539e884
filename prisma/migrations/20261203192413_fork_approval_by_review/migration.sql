-- AlterTable
ALTER TABLE "pull_request_states" ADD COLUMN     "approved_by" TEXT,
ADD COLUMN     "review_approval_id" BIGINT,
ADD COLUMN     "review_approved_by" TEXT,
ADD COLUMN     "review_approved_sha" TEXT;
