-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "environment_status" AS ENUM ('PENDING', 'PROVISIONING', 'READY', 'UPDATING', 'DESTROYING', 'DESTROYED', 'FAILED');

-- CreateEnum
CREATE TYPE "deployment_status" AS ENUM ('QUEUED', 'IN_PROGRESS', 'SUCCESS', 'FAILED');

-- CreateTable
CREATE TABLE "users" (
    "id" SERIAL NOT NULL,
    "github_id" BIGINT NOT NULL,
    "github_login" TEXT NOT NULL,
    "email" TEXT,
    "avatar_url" TEXT,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "environments" (
    "id" SERIAL NOT NULL,
    "repository_full_name" TEXT NOT NULL,
    "repository_name" TEXT NOT NULL,
    "pr_number" INTEGER NOT NULL,
    "pr_title" TEXT,
    "branch_name" TEXT NOT NULL,
    "commit_sha" TEXT NOT NULL,
    "namespace" TEXT NOT NULL,
    "environment_url" TEXT,
    "status" "environment_status" NOT NULL DEFAULT 'PENDING',
    "installation_id" BIGINT NOT NULL,
    "owner_id" INTEGER,
    "error_message" TEXT,
    "last_deployed_at" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "destroyed_at" TIMESTAMPTZ(6),

    CONSTRAINT "environments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "deployments" (
    "id" SERIAL NOT NULL,
    "environment_id" INTEGER NOT NULL,
    "commit_sha" TEXT NOT NULL,
    "commit_message" TEXT,
    "status" "deployment_status" NOT NULL DEFAULT 'QUEUED',
    "started_at" TIMESTAMPTZ(6),
    "completed_at" TIMESTAMPTZ(6),
    "error_message" TEXT,
    "logs" TEXT,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "processed_deliveries" (
    "delivery_id" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "action" TEXT,
    "processed_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "processed_deliveries_pkey" PRIMARY KEY ("delivery_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_github_id_key" ON "users"("github_id");

-- CreateIndex
CREATE UNIQUE INDEX "environments_namespace_key" ON "environments"("namespace");

-- CreateIndex
CREATE INDEX "environments_created_at_id_idx" ON "environments"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "environments_repository_full_name_created_at_id_idx" ON "environments"("repository_full_name", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "environments_status_created_at_id_idx" ON "environments"("status", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "environments_status_last_deployed_at_idx" ON "environments"("status", "last_deployed_at");

-- CreateIndex
CREATE INDEX "environments_installation_id_idx" ON "environments"("installation_id");

-- CreateIndex
CREATE INDEX "environments_owner_id_idx" ON "environments"("owner_id");

-- CreateIndex
CREATE UNIQUE INDEX "environments_repository_full_name_pr_number_key" ON "environments"("repository_full_name", "pr_number");

-- CreateIndex
CREATE INDEX "deployments_environment_id_id_idx" ON "deployments"("environment_id", "id" DESC);

-- CreateIndex
CREATE INDEX "deployments_status_idx" ON "deployments"("status");

-- CreateIndex
CREATE INDEX "processed_deliveries_processed_at_idx" ON "processed_deliveries"("processed_at");

-- AddForeignKey
ALTER TABLE "environments" ADD CONSTRAINT "environments_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "deployments" ADD CONSTRAINT "deployments_environment_id_fkey" FOREIGN KEY ("environment_id") REFERENCES "environments"("id") ON DELETE CASCADE ON UPDATE CASCADE;
