import { Component, Input } from "@angular/core";
import type { Thing } from "./thing";

/** A component — with ünïcode in its doc. */
@Component({ selector: "app-foo" })
export class Foo<T> implements Thing {
  @Input() name: string;
  handler = (e: Event): void => { console.log(e); };

  get value(): number { return this._v; }
  set value(v: number) { this._v = v; }

  run(a: string): void;
  run(a: number): void;
  run(a: any): void {
    this.handler(a);
  }
}

export interface Shape {
  area(): number;
}

export type Pair = [number, number];

export const square = (n: number): number => {
  return n * n;
};

export default function main(): void {
  new Foo();
}
