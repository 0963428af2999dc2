package commerce

import (
	"strings"
	"testing"

	"behalf/apperr"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

func TestCreateProduct(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		admin := f.user("admin", security.RoleAdministrator)
		carla := f.user("carla", security.RoleCustomer)
		in := CreateProductInput{SKU: "  ab-12 ", Name: "Widget", Description: "A blue widget", Price: "12.5", Currency: "eur", Stock: 7}
		_, err := f.svc.CreateProduct(f.as(carla), in)
		wantCode(t, err, apperr.Forbidden)
		p := must(f.svc.CreateProduct(f.as(admin), in))
		if p.SKU != "AB-12" || p.PriceMinor != 1250 || p.Currency != "EUR" || p.Price().Amount() != "12.50" || p.Stock != 7 {
			t.Errorf("product = %+v", p)
		}
		_, err = f.svc.CreateProduct(f.as(admin), CreateProductInput{SKU: "ab-12", Name: "Again", Price: "1", Currency: "EUR"})
		wantCode(t, err, apperr.Conflict)
		for name, bad := range map[string]CreateProductInput{
			"sku chars":   {SKU: "a b", Name: "n", Price: "1", Currency: "EUR"},
			"sku long":    {SKU: strings.Repeat("A", 65), Name: "n", Price: "1", Currency: "EUR"},
			"no name":     {SKU: "X1", Name: " ", Price: "1", Currency: "EUR"},
			"price float": {SKU: "X1", Name: "n", Price: "1.234", Currency: "EUR"},
			"price neg":   {SKU: "X1", Name: "n", Price: "-1", Currency: "EUR"},
			"price text":  {SKU: "X1", Name: "n", Price: "abc", Currency: "EUR"},
			"price huge":  {SKU: "X1", Name: "n", Price: "100000000000", Currency: "EUR"},
			"currency":    {SKU: "X1", Name: "n", Price: "1", Currency: "EURO"},
			"stock neg":   {SKU: "X1", Name: "n", Price: "1", Currency: "EUR", Stock: -1},
		} {
			_, err := f.svc.CreateProduct(f.as(admin), bad)
			if apperr.CodeOf(err) != apperr.BadUserInput {
				t.Errorf("%s: %v, want BAD_USER_INPUT", name, err)
			}
		}
		got := must(f.svc.Product(f.as(carla), "ab-12"))
		if got == nil || got.ID != p.ID {
			t.Errorf("product(ab-12) = %v, want the product (sku lookups ignore case)", got)
		}
		if none := must(f.svc.Product(f.as(carla), "nope")); none != nil {
			t.Errorf("unknown sku = %v, want nil", none)
		}
	})
}

func TestProductsSearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		admin := f.user("admin", security.RoleAdministrator)
		for _, in := range []CreateProductInput{
			{SKU: "GLV-NIT-M", Name: "Nitrile gloves M", Description: "Powder-free", Price: "12.90", Currency: "EUR"},
			{SKU: "GLV-CUT-9", Name: "Cut-resistant gloves", Description: "EN 388", Price: "7.40", Currency: "EUR"},
			{SKU: "TAPE-50", Name: "Packing tape", Description: "Brown, low-noise", Price: "10.80", Currency: "EUR"},
		} {
			must(f.svc.CreateProduct(f.as(admin), in))
		}
		ctx := f.as(admin)
		for search, want := range map[string]int{"gloves": 2, "GLOV nitr": 1, "glv": 2, "powder": 1, "tape-50": 1, "brown noise": 1, "drill": 0, "": 3} {
			conn := must(f.svc.Products(ctx, &search, store.PageArgs{}))
			if len(conn.Edges) != want {
				t.Errorf("products(%q) = %d, want %d", search, len(conn.Edges), want)
			}
		}
		first := 2
		conn := must(f.svc.Products(ctx, nil, store.PageArgs{First: &first}))
		if len(conn.Edges) != 2 || !conn.PageInfo.HasNextPage || must(conn.TotalCount(ctx)) != 3 {
			t.Errorf("page of 2: %d edges, next=%v", len(conn.Edges), conn.PageInfo.HasNextPage)
		}
	})
}

func TestCart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		ctx := f.as(carla)
		f.product("A-1", "2.50", 10)
		f.product("B-2", "0.99", 10)
		usd, _ := newProduct(CreateProductInput{SKU: "USD-1", Name: "Dollar item", Price: "1", Currency: "USD", Stock: 1})
		if err := db.Create(usd).Error; err != nil {
			t.Fatal(err)
		}

		c := must(f.svc.Cart(ctx))
		if len(c.Items) != 0 || c.Version != 0 || c.Total().Amount() != "0.00" || c.CustomerID != carla.ID {
			t.Fatalf("new cart = %+v", c)
		}
		if again := must(f.svc.Cart(ctx)); again.ID != c.ID {
			t.Error("cart() created a second cart")
		}
		must(f.svc.AddToCart(ctx, "a-1", 2))
		must(f.svc.AddToCart(ctx, "A-1", 3))
		c = must(f.svc.AddToCart(ctx, "B-2", 1))
		if len(c.Items) != 2 || c.Items[0].Quantity != 5 || c.Version != 3 {
			t.Fatalf("cart after adds: %d lines, first %d units, version %d", len(c.Items), c.Items[0].Quantity, c.Version)
		}
		if c.Total().Amount() != "13.49" || c.Items[0].LineTotal().Amount() != "12.50" {
			t.Errorf("total %s, line %s", c.Total().Amount(), c.Items[0].LineTotal().Amount())
		}
		c = must(f.svc.UpdateCartItem(ctx, "A-1", 4))
		if c.Items[0].Quantity != 4 || c.Version != 4 {
			t.Errorf("after update: %d units, version %d", c.Items[0].Quantity, c.Version)
		}
		c = must(f.svc.UpdateCartItem(ctx, "A-1", 0))
		if len(c.Items) != 1 || c.Items[0].SKU != "B-2" || c.Version != 5 {
			t.Errorf("update to 0 did not remove the line: %+v", c.Items)
		}
		c = must(f.svc.RemoveFromCart(ctx, "B-2"))
		if len(c.Items) != 0 || c.Version != 6 {
			t.Errorf("after remove: %d lines, version %d", len(c.Items), c.Version)
		}
		c = must(f.svc.RemoveFromCart(ctx, "B-2"))
		if c.Version != 6 {
			t.Errorf("removing an absent line changed the version to %d", c.Version)
		}

		for name, tc := range map[string]struct {
			err  error
			code apperr.Code
		}{
			"add 0":            {err: second(f.svc.AddToCart(ctx, "A-1", 0)), code: apperr.BadUserInput},
			"add negative":     {err: second(f.svc.AddToCart(ctx, "A-1", -3)), code: apperr.BadUserInput},
			"add absurd":       {err: second(f.svc.AddToCart(ctx, "A-1", 1_000_000)), code: apperr.BadUserInput},
			"update negative":  {err: second(f.svc.UpdateCartItem(ctx, "A-1", -1)), code: apperr.BadUserInput},
			"update absurd":    {err: second(f.svc.UpdateCartItem(ctx, "A-1", MaxQuantity+1)), code: apperr.BadUserInput},
			"unknown sku":      {err: second(f.svc.AddToCart(ctx, "NOPE", 1)), code: apperr.NotFound},
			"unknown remove":   {err: second(f.svc.RemoveFromCart(ctx, "NOPE")), code: apperr.NotFound},
			"anonymous":        {err: second(f.svc.AddToCart(t.Context(), "A-1", 1)), code: apperr.Unauthenticated},
			"anonymous cart()": {err: second(f.svc.Cart(t.Context())), code: apperr.Unauthenticated},
		} {
			if apperr.CodeOf(tc.err) != tc.code {
				t.Errorf("%s: %v, want %s", name, tc.err, tc.code)
			}
		}
		must(f.svc.AddToCart(ctx, "A-1", MaxQuantity))
		_, err := f.svc.AddToCart(ctx, "A-1", 1)
		wantCode(t, err, apperr.BadUserInput) // the line would exceed MaxQuantity
		_, err = f.svc.AddToCart(ctx, "USD-1", 1)
		wantCode(t, err, apperr.BadUserInput) // one currency per cart
		if n := f.count(&model.Cart{}, ""); n != 1 {
			t.Errorf("%d carts, want 1", n)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestCartIsPerCustomerAndStamped(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		dan := f.user("dan", security.RoleCustomer)
		sam := f.user("sam", security.RoleSupport)
		f.product("A-1", "1", 10)
		c := must(f.svc.AddToCart(f.onBehalf(carla, sam), "A-1", 1))
		if c.CustomerID != carla.ID || c.CreatedBy != "sam" || c.ModifiedBy != "sam" || c.OperatorID == nil || *c.OperatorID != sam.ID {
			t.Errorf("on-behalf cart stamped %+v", c.Stamp)
		}
		var line model.CartItem
		dbtest.Must(t, db.Take(&line, "cart_id = ?", c.ID))
		if line.CreatedBy != "sam" || line.OperatorID == nil {
			t.Errorf("cart line stamped %+v", line.Stamp)
		}
		c = must(f.svc.AddToCart(f.as(carla), "A-1", 1))
		if c.CreatedBy != "sam" || c.ModifiedBy != "carla" || c.OperatorID != nil {
			t.Errorf("after the customer's own change: %+v", c.Stamp)
		}
		if d := must(f.svc.Cart(f.as(dan))); d.ID == c.ID || len(d.Items) != 0 {
			t.Error("dan sees carla's cart")
		}
	})
}

func TestPlaceOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		ctx := f.as(carla)
		f.product("A-1", "2.50", 10)
		f.product("B-2", "1.25", 3)

		_, err := f.svc.PlaceOrder(ctx, "k-empty")
		wantCode(t, err, apperr.BadUserInput)
		for _, bad := range []string{"", strings.Repeat("k", 256), "bad\x00key"} {
			_, err := f.svc.PlaceOrder(ctx, bad)
			wantCode(t, err, apperr.BadUserInput)
		}
		if n := f.count(&model.IdempotencyKey{}, ""); n != 0 {
			t.Errorf("failed requests left %d idempotency keys", n)
		}

		must(f.svc.AddToCart(ctx, "A-1", 4))
		must(f.svc.AddToCart(ctx, "B-2", 3))
		o := must(f.svc.PlaceOrder(ctx, "k-empty")) // a key whose request failed is free
		if o.Number != "SO-100001" || o.Status != model.OrderPlaced || o.Total().Amount() != "13.75" || len(o.Items) != 2 {
			t.Errorf("order = %+v", o)
		}
		if o.Items[0].SKU != "A-1" || o.Items[0].UnitPrice().Amount() != "2.50" || o.Items[0].Name != "Product A-1" {
			t.Errorf("first line = %+v", o.Items[0])
		}
		if f.stock("A-1") != 6 || f.stock("B-2") != 0 {
			t.Errorf("stock = %d, %d; want 6, 0", f.stock("A-1"), f.stock("B-2"))
		}
		c := must(f.svc.Cart(ctx))
		if len(c.Items) != 0 {
			t.Error("cart not emptied")
		}

		// Out of stock: nothing is reserved, the cart keeps its lines.
		must(f.svc.AddToCart(ctx, "A-1", 1))
		must(f.svc.AddToCart(ctx, "B-2", 1))
		_, err = f.svc.PlaceOrder(ctx, "k2")
		wantCode(t, err, apperr.Conflict)
		if f.stock("A-1") != 6 || f.count(&model.Order{}, "") != 1 || len(must(f.svc.Cart(ctx)).Items) != 2 {
			t.Error("a failed order left partial changes")
		}
		must(f.svc.RemoveFromCart(ctx, "B-2"))
		o2 := must(f.svc.PlaceOrder(ctx, "k2"))
		if o2.Number != "SO-100002" {
			t.Errorf("second order number %s", o2.Number)
		}
	})
}

func TestOrderVisibility(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		dan := f.user("dan", security.RoleCustomer)
		sam := f.user("sam", security.RoleSupport)
		f.product("A-1", "1", 10)
		var orders []*model.Order
		for _, u := range []*model.User{carla, dan, carla} {
			must(f.svc.AddToCart(f.as(u), "A-1", 1))
			orders = append(orders, must(f.svc.PlaceOrder(f.as(u), "k-"+model.NewID())))
		}
		mine := must(f.svc.Orders(f.as(carla), store.PageArgs{}))
		if len(mine.Edges) != 2 || mine.Edges[0].Node.ID != orders[2].ID || len(mine.Edges[0].Node.Items) != 1 {
			t.Errorf("carla's orders: %d, want 2 newest first with lines", len(mine.Edges))
		}
		all := must(f.svc.Orders(f.as(sam), store.PageArgs{}))
		if len(all.Edges) != 3 {
			t.Errorf("orders:read sees %d orders, want 3", len(all.Edges))
		}
		// In a login-on-behalf session the staff member has only the customer's permissions.
		ob := must(f.svc.Orders(f.onBehalf(carla, sam), store.PageArgs{}))
		if len(ob.Edges) != 2 {
			t.Errorf("on behalf of carla: %d orders, want carla's 2", len(ob.Edges))
		}
		_, err := f.svc.Order(f.as(carla), orders[1].ID)
		wantCode(t, err, apperr.NotFound)
		_, err = f.svc.Order(f.as(carla), "no-such-id")
		wantCode(t, err, apperr.NotFound)
		if o := must(f.svc.Order(f.as(sam), orders[1].ID)); o.CustomerID != dan.ID {
			t.Error("orders:read cannot read dan's order")
		}
		_, err = f.svc.PayOrder(f.as(carla), PayOrderInput{OrderID: orders[1].ID, IdempotencyKey: "p", Method: model.PaymentInvoice})
		wantCode(t, err, apperr.NotFound)
		_, err = f.svc.PayOrder(f.as(sam), PayOrderInput{OrderID: orders[1].ID, IdempotencyKey: "p", Method: model.PaymentInvoice})
		wantCode(t, err, apperr.NotFound) // reading all orders is not paying them
	})
}

func TestPayOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		ctx := f.as(carla)
		f.product("A-1", "19.99", 100)
		place := func() *model.Order {
			must(f.svc.AddToCart(ctx, "A-1", 2))
			return must(f.svc.PlaceOrder(ctx, "o-"+model.NewID()))
		}
		pay := func(o *model.Order, key string, method model.PaymentMethod, token *string) (*model.Payment, error) {
			return f.svc.PayOrder(ctx, PayOrderInput{OrderID: o.ID, IdempotencyKey: key, Method: method, Token: token})
		}
		status := func(o *model.Order) model.OrderStatus {
			return must(f.svc.Order(ctx, o.ID)).Status
		}

		// Invoice: pending payment, order awaiting payment; paying again is CONFLICT.
		o1 := place()
		p := must(pay(o1, "p1", model.PaymentInvoice, nil))
		if p.Status != model.PaymentPending || p.Amount().Amount() != "39.98" || p.Reference == nil || !strings.HasPrefix(*p.Reference, "INV-") {
			t.Errorf("invoice payment = %+v", p)
		}
		if status(o1) != model.OrderAwaitingPayment {
			t.Errorf("order after invoice: %s", status(o1))
		}
		_, err := pay(o1, "p1-again", model.PaymentCard, ptr("tok_visa"))
		wantCode(t, err, apperr.Conflict)

		// Card declined: recorded and returned, the order stays payable.
		o2 := place()
		d := must(pay(o2, "p2", model.PaymentCard, ptr("tok_chargeDeclined")))
		if d.Status != model.PaymentDeclined || d.DeclineCode == nil || *d.DeclineCode != "card_declined" || status(o2) != model.OrderPlaced {
			t.Errorf("declined payment %+v, order %s", d, status(o2))
		}
		if again := must(pay(o2, "p2", model.PaymentCard, ptr("tok_chargeDeclined"))); again.ID != d.ID {
			t.Error("replaying a declined payment made a new one")
		}
		ok := must(pay(o2, "p3", model.PaymentCard, ptr("tok_visa")))
		if ok.Status != model.PaymentSucceeded || status(o2) != model.OrderPaid {
			t.Errorf("card payment %s, order %s", ok.Status, status(o2))
		}
		_, err = pay(o2, "p4", model.PaymentCard, ptr("tok_visa"))
		wantCode(t, err, apperr.Conflict)
		if ps := must(f.svc.PaymentsOf(ctx, must(f.svc.Order(ctx, o2.ID)))); len(ps) != 2 {
			t.Errorf("order has %d payments, want the declined and the successful one", len(ps))
		}

		// Refusals before anything is stored.
		o3 := place()
		for name, tc := range map[string]struct {
			method model.PaymentMethod
			token  *string
			code   apperr.Code
		}{
			"card number":         {model.PaymentCard, ptr("4242424242424242"), apperr.BadUserInput},
			"spaced card number":  {model.PaymentCard, ptr("4242 4242 4242 4242"), apperr.BadUserInput},
			"card number invoice": {model.PaymentInvoice, ptr("5555555555554444"), apperr.BadUserInput},
			"card without token":  {model.PaymentCard, nil, apperr.BadUserInput},
			"unknown token":       {model.PaymentCard, ptr("tok_bogus"), apperr.BadUserInput},
			"unknown method":      {"CASH", nil, apperr.BadUserInput},
		} {
			_, err := pay(o3, "bad-"+name, tc.method, tc.token)
			if apperr.CodeOf(err) != tc.code {
				t.Errorf("%s: %v, want %s", name, err, tc.code)
			}
		}
		if n := f.count(&model.Payment{}, "order_id = ?", o3.ID); n != 0 {
			t.Errorf("refused payments stored %d rows", n)
		}
		if n := f.count(&model.IdempotencyKey{}, "idem_key LIKE ?", "bad-%"); n != 0 {
			t.Errorf("refused payments stored %d idempotency keys", n)
		}
	})
}
