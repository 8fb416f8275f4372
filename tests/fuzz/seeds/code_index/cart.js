export class Cart {
  constructor() {
    this.lines = [];
  }

  add(item, qty = 1) {
    this.lines.push({ item, qty });
    return this;
  }
}

export function total(cart, prices) {
  return cart.lines.reduce((sum, l) => sum + prices[l.item] * l.qty, 0);
}

const describe = (cart) => `${cart.lines.length} lines`;
