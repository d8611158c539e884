-- AlterTable
ALTER TABLE "pull_request_states" ADD COLUMN     "comment_claimed_at" TIMESTAMPTZ(6),
ADD COLUMN     "trusted_sha" TEXT;
