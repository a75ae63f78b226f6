-- AlterTable
ALTER TABLE "Session" ADD COLUMN     "dpopJkt" TEXT;
