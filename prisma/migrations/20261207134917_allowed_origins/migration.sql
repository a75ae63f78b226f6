-- CreateTable
CREATE TABLE "AllowedOrigin" (
    "origin" TEXT NOT NULL,
    "addedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "addedById" UUID,

    CONSTRAINT "AllowedOrigin_pkey" PRIMARY KEY ("origin")
);
