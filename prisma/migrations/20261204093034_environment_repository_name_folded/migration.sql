-- The API's repository filter compares full names folded, as GitHub does (one rule: repository-identity.ts), so
-- its index is on the folded name. Prisma cannot declare an expression index; its diff leaves this one alone.

-- DropIndex
DROP INDEX "environments_repository_full_name_created_at_id_idx";

-- CreateIndex
CREATE INDEX "environments_folded_repository_created_at_id_idx" ON "environments"(lower("repository_full_name"), "created_at" DESC, "id" DESC);
