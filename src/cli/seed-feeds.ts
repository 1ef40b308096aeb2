/** The seed app's eight live feeds with their priorities (1 first), in start order. */
export const seedFeeds: ReadonlyArray<readonly [name: string, priority: number]> = [
  ['queue', 1],
  ['adw-monitor', 1],
  ['workflows', 2],
  ['routes', 2],
  ['workflow-history', 2],
  ['planned-features', 3],
  ['system-status', 3],
  ['webhook-status', 3],
];
