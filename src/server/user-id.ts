/** What a channel segment is made of (`user:<id>`, the `{userId}` of a rule). */
export const SEGMENT_CHARS = 'A-Za-z0-9_.@=+~|-';
const USER_ID_PATTERN = new RegExp(`^[${SEGMENT_CHARS}]{1,128}$`);

/** What a user id may be: it names the user's channels (`user:<id>`, `{userId}` segments). */
export const USER_ID_RULE = '1 to 128 letters, digits or _ . @ = + ~ | -';

/** Whether a user id is a single channel segment of at most 128 characters (no `:`). */
export const isUserId = (id: unknown): boolean => typeof id === 'string' && USER_ID_PATTERN.test(id);
