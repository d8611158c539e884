-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "base_sha" TEXT,
ADD COLUMN     "destroy_requested_at" TIMESTAMPTZ(6),
ADD COLUMN     "from_fork" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "waiting_since" TIMESTAMPTZ(6);

-- CreateIndex
CREATE INDEX "environments_repository_full_name_waiting_since_idx" ON "environments"("repository_full_name", "waiting_since");

-- Environments being torn down now: their teardown was asked for when they last changed.
UPDATE "environments" SET "destroy_requested_at" = "updated_at" WHERE "status" = 'DESTROYING';
