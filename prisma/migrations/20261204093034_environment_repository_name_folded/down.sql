-- DropIndex
DROP INDEX "environments_folded_repository_created_at_id_idx";

-- CreateIndex
CREATE INDEX "environments_repository_full_name_created_at_id_idx" ON "public"."environments"("repository_full_name" ASC, "created_at" DESC, "id" DESC);
