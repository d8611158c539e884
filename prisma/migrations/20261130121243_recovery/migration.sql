-- CreateTable
CREATE TABLE "github_sync_state" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "github_sync_state_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "redelivery_requests" (
    "guid" TEXT NOT NULL,
    "requests" INTEGER NOT NULL,
    "last_requested_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "redelivery_requests_pkey" PRIMARY KEY ("guid")
);

-- CreateTable
CREATE TABLE "pull_list_etags" (
    "repository_full_name" TEXT NOT NULL,
    "etag" TEXT NOT NULL,
    "checked_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pull_list_etags_pkey" PRIMARY KEY ("repository_full_name")
);

-- CreateIndex
CREATE INDEX "redelivery_requests_last_requested_at_idx" ON "redelivery_requests"("last_requested_at");

-- A deployment's logs kept to the newest `max_bytes` (DEPLOYMENT_LOG_MAX_BYTES): the cut is made at a line
-- boundary (so no character is split) and marked with how much was cut. Used by every write that appends logs.
CREATE FUNCTION "ephemera_cap_logs"(logs text, max_bytes integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  whole bytea;
  tail bytea;
  nl integer;
BEGIN
  IF logs IS NULL OR max_bytes <= 0 OR octet_length(logs) <= max_bytes THEN
    RETURN logs;
  END IF;
  whole := convert_to(logs, 'UTF8');
  -- Room is left for the marker line.
  tail := substring(whole FROM octet_length(whole) - greatest(max_bytes - 80, 1) + 1);
  nl := position('\x0a'::bytea IN tail);
  IF nl > 0 THEN
    tail := substring(tail FROM nl + 1);
  ELSE
    -- One long line: start at a character boundary (skip UTF-8 continuation bytes).
    WHILE octet_length(tail) > 0 AND get_byte(tail, 0) BETWEEN 128 AND 191 LOOP
      tail := substring(tail FROM 2);
    END LOOP;
  END IF;
  RETURN '[' || (octet_length(whole) - octet_length(tail)) || ' bytes of earlier log lines cut]' || chr(10) || convert_from(tail, 'UTF8');
END
$$;
