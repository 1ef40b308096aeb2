/**
 * What the examples' apps do to get a token: mint one for the example server's JWT_SECRET with
 * `createToken`, as src/server/README.md shows. A production app asks its identity provider.
 */
// #region readme
import { createToken } from 'socketchart/server';

const token = await createToken({ secret: process.env.JWT_SECRET, userId: 'alice', roles: ['admin'], expiresInSec: 3600 });
// createConnection({ url, auth: { token } }) — a production app gets its tokens from its identity provider
// #endregion

/** A token for `userId` (the examples' `fetchToken` / `getToken`). */
export const tokenFor = (userId = 'alice') => createToken({ secret: process.env.JWT_SECRET, userId, roles: ['admin'], expiresInSec: 3600 });

export { token };
