-- Going back to keying on the full name needs the names to be unique again: a repository renamed to the name of
-- another makes two rows share one. Stop with a clear message rather than half-way.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM environments GROUP BY repository_full_name, pr_number HAVING count(*) > 1)
     OR EXISTS (SELECT 1 FROM pull_request_states GROUP BY repository_full_name, pr_number HAVING count(*) > 1) THEN
    RAISE EXCEPTION 'cannot roll back repository_identity: two pull requests share a repository full name and number (a repository was renamed to another''s name); remove one of them first';
  END IF;
END
$$;

-- DropIndex
DROP INDEX "public"."environments_repository_full_name_pr_number_idx";

-- DropIndex
DROP INDEX "public"."environments_repository_id_pr_number_key";

-- DropIndex
DROP INDEX "public"."pull_request_states_repository_full_name_pr_number_idx";

-- DropIndex
DROP INDEX "public"."pull_request_states_repository_id_pr_number_key";

-- AlterTable
ALTER TABLE "public"."environments" DROP COLUMN "repository_id";

-- AlterTable
ALTER TABLE "public"."deployments" DROP COLUMN "reported_state";

-- AlterTable
ALTER TABLE "public"."pull_request_states" DROP CONSTRAINT "pull_request_states_pkey",
DROP COLUMN "comment_digest",
DROP COLUMN "id",
DROP COLUMN "last_head_sha",
DROP COLUMN "last_pr_state",
DROP COLUMN "note",
DROP COLUMN "repository_id",
ADD CONSTRAINT "pull_request_states_pkey" PRIMARY KEY ("repository_full_name", "pr_number");

-- CreateIndex
CREATE UNIQUE INDEX "environments_repository_full_name_pr_number_key" ON "public"."environments"("repository_full_name" ASC, "pr_number" ASC);
