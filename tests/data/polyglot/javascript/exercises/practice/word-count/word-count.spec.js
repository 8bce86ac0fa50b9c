import { countWords } from './word-count';

describe('countWords', () => {
  test('counts one word', () => {
    expect(countWords('word')).toEqual({ word: 1 });
  });

  xtest('counts repeated words', () => {
    expect(countWords('one fish two fish')).toEqual({ one: 1, fish: 2, two: 1 });
  });

  xtest('ignores case', () => {
    expect(countWords('Go go GO')).toEqual({ go: 3 });
  });

  xtest('keeps apostrophes inside words', () => {
    expect(countWords("don't stop, 'tis")).toEqual({ "don't": 1, stop: 1, tis: 1 });
  });

  test.skip('counts numbers as words', () => {
    expect(countWords('1 2 2')).toEqual({ 1: 1, 2: 2 });
  });
});
