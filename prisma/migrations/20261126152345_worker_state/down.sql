-- AlterTable
ALTER TABLE "public"."deployments" DROP COLUMN "github_deployment_id";

-- DropTable
DROP TABLE "public"."pull_request_states";
