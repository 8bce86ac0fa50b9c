export const countWords = () => {
  throw new Error('Remove this statement and implement this function');
};
