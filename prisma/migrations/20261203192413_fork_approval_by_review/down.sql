-- AlterTable
ALTER TABLE "public"."pull_request_states" DROP COLUMN "approved_by",
DROP COLUMN "review_approval_id",
DROP COLUMN "review_approved_by",
DROP COLUMN "review_approved_sha";
