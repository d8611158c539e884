import type { Prisma, PrismaClient } from './generated/prisma/client.js';

/** Repository functions take either the client or an interactive transaction's client. */
export type Db = PrismaClient | Prisma.TransactionClient;
