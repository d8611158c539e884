-- AlterTable
ALTER TABLE "environments" ADD COLUMN     "after_create_succeeded_at" TIMESTAMPTZ(6);
