/** `r` when it lies in [0, 1); the middle, 0.5, for a random source that strays (1, negative, NaN). */
export const unitRandom = (r: number): number => (r >= 0 && r < 1 ? r : 0.5);
