"use strict";
const path = require("path");

class Widget {
  static create = () => new Widget();

  *ids() { yield 1; }

  render() {
    return path.join("a", "b");
  }
}

function helper() {
  return new Widget();
}

module.exports = { Widget, helper };
