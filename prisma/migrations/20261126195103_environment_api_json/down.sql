DROP TRIGGER "users_github_login_in_environments" ON "public"."users";
DROP FUNCTION "public"."users_rerender_environments"();
DROP TRIGGER "environments_api_json" ON "public"."environments";
DROP FUNCTION "public"."environments_render_api_json"();

-- AlterTable
ALTER TABLE "public"."environments" DROP COLUMN "api_json";
