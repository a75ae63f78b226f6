-- AlterTable
ALTER TABLE "Room" ADD COLUMN     "lastActivityAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- Existing rooms: the time of their last message, else their creation (written by hand).
UPDATE "Room" r SET "lastActivityAt" = COALESCE((SELECT m."createdAt" FROM "Message" m WHERE m."roomId" = r."id" ORDER BY m."seq" DESC LIMIT 1), r."createdAt");

-- CreateIndex
CREATE INDEX "Room_lastActivityAt_id_idx" ON "Room"("lastActivityAt" DESC, "id" DESC);
