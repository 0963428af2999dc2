-- +goose Up
-- The storefront: catalog, carts, orders, payments, idempotency keys. Carts, cart lines, orders and
-- payments are stamped (created_by, modified_by, operator_id), filled by the store's GORM callback.
CREATE TABLE products (
    id            text PRIMARY KEY,
    sku           text NOT NULL,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    price_minor   bigint NOT NULL CHECK (price_minor >= 0),
    currency      text NOT NULL,
    stock         integer NOT NULL CHECK (stock >= 0),
    search_text   text NOT NULL DEFAULT '',
    created_at    datetime NOT NULL,
    updated_at    datetime NOT NULL
);
CREATE UNIQUE INDEX products_sku_idx ON products (sku);

CREATE TABLE carts (
    id          text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES users(id),
    version     integer NOT NULL DEFAULT 0,
    created_by  text NOT NULL,
    modified_by text NOT NULL,
    operator_id text REFERENCES users(id),
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);
CREATE UNIQUE INDEX carts_customer_idx ON carts (customer_id);

CREATE TABLE cart_items (
    id          text PRIMARY KEY,
    cart_id     text NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    product_id  text NOT NULL REFERENCES products(id),
    sku         text NOT NULL,
    quantity    integer NOT NULL CHECK (quantity > 0),
    created_by  text NOT NULL,
    modified_by text NOT NULL,
    operator_id text REFERENCES users(id),
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);
CREATE UNIQUE INDEX cart_items_line_idx ON cart_items (cart_id, product_id);

CREATE TABLE orders (
    id          text PRIMARY KEY,
    number      text NOT NULL,
    customer_id text NOT NULL REFERENCES users(id),
    status      text NOT NULL,
    total_minor bigint NOT NULL,
    currency    text NOT NULL,
    created_by  text NOT NULL,
    modified_by text NOT NULL,
    operator_id text REFERENCES users(id),
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);
CREATE UNIQUE INDEX orders_number_idx ON orders (number);
CREATE INDEX orders_customer_idx ON orders (customer_id, id);

CREATE TABLE order_items (
    id               text PRIMARY KEY,
    order_id         text NOT NULL REFERENCES orders(id),
    product_id       text NOT NULL REFERENCES products(id),
    sku              text NOT NULL,
    name             text NOT NULL,
    quantity         integer NOT NULL CHECK (quantity > 0),
    unit_price_minor bigint NOT NULL,
    currency         text NOT NULL,
    created_at       datetime NOT NULL
);
CREATE INDEX order_items_order_idx ON order_items (order_id);

CREATE TABLE payments (
    id           text PRIMARY KEY,
    order_id     text NOT NULL REFERENCES orders(id),
    customer_id  text NOT NULL REFERENCES users(id),
    method       text NOT NULL,
    status       text NOT NULL,
    amount_minor bigint NOT NULL,
    currency     text NOT NULL,
    reference    text,
    decline_code text,
    created_by   text NOT NULL,
    modified_by  text NOT NULL,
    operator_id  text REFERENCES users(id),
    created_at   datetime NOT NULL,
    updated_at   datetime NOT NULL
);
CREATE INDEX payments_order_idx ON payments (order_id, id);

-- One row per (customer, operation, key): the unique index makes a concurrent duplicate wait for the
-- first request's transaction and then see its result.
CREATE TABLE idempotency_keys (
    id           text PRIMARY KEY,
    customer_id  text NOT NULL REFERENCES users(id),
    scope        text NOT NULL,
    idem_key     text NOT NULL,
    request_hash text NOT NULL,
    result_id    text NOT NULL DEFAULT '',
    created_at   datetime NOT NULL
);
CREATE UNIQUE INDEX idempotency_keys_key_idx ON idempotency_keys (customer_id, scope, idem_key);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

CREATE TABLE counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('order_number', 100000);

-- +goose Down
DROP TABLE counters;
DROP TABLE idempotency_keys;
DROP TABLE payments;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE cart_items;
DROP TABLE carts;
DROP TABLE products;
