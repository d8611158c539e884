-- AlterTable
ALTER TABLE "public"."environments" DROP COLUMN "after_create_succeeded_at";
