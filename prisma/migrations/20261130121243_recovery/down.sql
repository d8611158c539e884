-- DropFunction
DROP FUNCTION IF EXISTS "ephemera_cap_logs"(text, integer);

-- DropTable
DROP TABLE "public"."github_sync_state";

-- DropTable
DROP TABLE "public"."redelivery_requests";

-- DropTable
DROP TABLE "public"."pull_list_etags";
