-- AlterTable
ALTER TABLE "public"."pull_request_states" DROP COLUMN "comment_claimed_at",
DROP COLUMN "trusted_sha";
