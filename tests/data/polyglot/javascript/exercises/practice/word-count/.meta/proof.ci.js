export const countWords = (phrase) => {
  const counts = {};
  const words = phrase.toLowerCase().match(/[a-z0-9]+(?:'[a-z0-9]+)*/g) || [];
  for (const word of words) {
    counts[word] = (counts[word] || 0) + 1;
  }
  return counts;
};
