-- DropForeignKey
ALTER TABLE "public"."environments" DROP CONSTRAINT "environments_owner_id_fkey";

-- DropForeignKey
ALTER TABLE "public"."deployments" DROP CONSTRAINT "deployments_environment_id_fkey";

-- DropTable
DROP TABLE "public"."users";

-- DropTable
DROP TABLE "public"."environments";

-- DropTable
DROP TABLE "public"."deployments";

-- DropTable
DROP TABLE "public"."processed_deliveries";

-- DropEnum
DROP TYPE "public"."environment_status";

-- DropEnum
DROP TYPE "public"."deployment_status";
