package commerce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// seedCatalog creates products through the createProduct mutation (as an administrator).
func seedCatalog(t *testing.T, env *apptest.Env, adminToken string, products ...[3]any) {
	t.Helper()
	for _, p := range products {
		env.MustDo(adminToken, `mutation($sku:String!,$price:String!,$stock:Int!){
			createProduct(input:{sku:$sku, name:$sku, price:$price, currency:"EUR", stock:$stock}) { id }
		}`, map[string]any{"sku": p[0], "price": p[1], "stock": p[2]}, nil)
	}
}

// onBehalfToken opens a login-on-behalf session of staff in customer's account, exactly as
// confirmOnBehalf does: the operator's own session is its parent.
func onBehalfToken(t *testing.T, env *apptest.Env, customer, staff *model.User, staffToken string) (string, *model.Session) {
	t.Helper()
	var parent model.Session
	if err := env.DB.Take(&parent, "token_hash = ?", security.HashToken(staffToken)).Error; err != nil {
		t.Fatal(err)
	}
	res, err := env.App.Security.NewSession(context.Background(), security.NewSessionInput{
		User: customer, Operator: staff, Parent: &parent, Reason: "ticket 4711", TTL: time.Hour, Idle: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Token, res.Session
}

// upload posts addToCartFromFile as a GraphQL multipart request (operations, map, file part).
func upload(t *testing.T, env *apptest.Env, token, filename string, content []byte, headers map[string]string) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops, _ := json.Marshal(map[string]any{
		"query":     `mutation($file: Upload!){ addToCartFromFile(file:$file){ added errors{ line sku message } cart{ version items{ sku quantity } } } }`,
		"variables": map[string]any{"file": nil},
	})
	_ = mw.WriteField("operations", string(ops))
	_ = mw.WriteField("map", `{"0":["variables.file"]}`)
	fw, err := mw.CreateFormFile("0", filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = mw.Close()
	h := map[string]string{"Content-Type": mw.FormDataContentType()}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	for k, v := range headers {
		h[k] = v
	}
	return apptest.ParseRecorder(t, env.HTTP(apptest.Request{Path: "/graphql", Body: &body, Headers: h}))
}

var preflight = map[string]string{"GraphQL-Require-Preflight": "1"}

type user struct {
	ID    string `json:"id"`
	Login string `json:"login"`
}

type stamped struct {
	Customer   user   `json:"customer"`
	CreatedBy  string `json:"createdBy"`
	ModifiedBy string `json:"modifiedBy"`
	Operator   *user  `json:"operator"`
}

type orderView struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Status string `json:"status"`
	Total  struct{ Amount, Currency string }
	Items  []struct {
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
	}
	Payments []struct {
		stamped
		Status string `json:"status"`
		Method string `json:"method"`
	}
	stamped
}

const stampFields = `customer{ id login } createdBy modifiedBy operator{ id login }`

// shop runs the storefront flow of the issue with token: one product added by hand, one from a CSV
// file, the order placed twice with one key, then paid by invoice. It returns the order as read back.
func shop(t *testing.T, env *apptest.Env, token string) (orderView, stamped) {
	t.Helper()
	env.MustDo(token, `mutation{ addToCart(sku:"FAS-M8-40-100", quantity:2){ version } }`, nil, nil)
	up := upload(t, env, token, "order.csv", []byte("sku,quantity\nSAF-GLV-NIT-M,3\n"), preflight)
	var bulk struct {
		AddToCartFromFile struct {
			Added  int
			Errors []any
		}
	}
	up.Decode(t, &bulk)
	if bulk.AddToCartFromFile.Added != 1 || len(bulk.AddToCartFromFile.Errors) != 0 {
		t.Fatalf("file upload: %s", up.Raw)
	}
	var cart struct {
		Cart struct {
			stamped
			Version int
			Total   struct{ Amount, Currency string }
			Items   []struct {
				SKU       string `json:"sku"`
				Quantity  int
				Product   struct{ Name string }
				UnitPrice struct{ Amount string }
				LineTotal struct{ Amount string }
			}
		}
	}
	env.MustDo(token, `{ cart { version total { amount currency } items { sku quantity product { name } unitPrice { amount } lineTotal { amount } } `+stampFields+` } }`, nil, &cart)
	c := cart.Cart
	if c.Version != 2 || c.Total.Amount != "76.50" || len(c.Items) != 2 || c.Items[0].SKU != "FAS-M8-40-100" ||
		c.Items[0].Product.Name != "FAS-M8-40-100" || c.Items[0].UnitPrice.Amount != "18.90" || c.Items[1].LineTotal.Amount != "38.70" {
		t.Errorf("cart = %+v", c)
	}

	place := `mutation{ placeOrder(idempotencyKey:"order-1"){ id number status total{ amount currency } items{ sku quantity } } }`
	var first, second struct{ PlaceOrder orderView }
	env.MustDo(token, place, nil, &first)
	env.MustDo(token, place, nil, &second)
	if first.PlaceOrder.ID == "" || second.PlaceOrder.ID != first.PlaceOrder.ID || second.PlaceOrder.Number != first.PlaceOrder.Number {
		t.Fatalf("repeating placeOrder gave %+v, first %+v", second.PlaceOrder, first.PlaceOrder)
	}
	var pay struct {
		PayOrder struct {
			Status, Method string
			Amount         struct{ Amount, Currency string }
		}
	}
	env.MustDo(token, `mutation($id:ID!){ payOrder(orderId:$id, idempotencyKey:"pay-1", method:INVOICE){ status method amount{ amount currency } } }`,
		map[string]any{"id": first.PlaceOrder.ID}, &pay)
	if pay.PayOrder.Status != "PENDING" || pay.PayOrder.Amount.Amount != "76.50" {
		t.Errorf("payment = %+v", pay.PayOrder)
	}
	var got struct{ Order orderView }
	env.MustDo(token, `query($id:ID!){ order(id:$id){ id number status total{ amount currency } items{ sku quantity }
		payments{ status method `+stampFields+` } `+stampFields+` } }`, map[string]any{"id": first.PlaceOrder.ID}, &got)
	o := got.Order
	if o.Status != "AWAITING_PAYMENT" || o.Total.Amount != "76.50" || o.Total.Currency != "EUR" || len(o.Items) != 2 || len(o.Payments) != 1 {
		t.Errorf("order = %+v", o)
	}
	return o, cart.Cart.stamped
}

func checkStamp(t *testing.T, what string, s stamped, customer *model.User, actor string, operator *model.User) {
	t.Helper()
	if s.Customer.ID != customer.ID || s.CreatedBy != actor || s.ModifiedBy != actor {
		t.Errorf("%s: customer %s, createdBy %q, modifiedBy %q; want %s, %q", what, s.Customer.Login, s.CreatedBy, s.ModifiedBy, customer.Login, actor)
	}
	switch {
	case operator == nil && s.Operator != nil:
		t.Errorf("%s: operator %s, want null", what, s.Operator.Login)
	case operator != nil && (s.Operator == nil || s.Operator.ID != operator.ID):
		t.Errorf("%s: operator %v, want %s", what, s.Operator, operator.Login)
	}
}

type eventView struct {
	Action       string
	Actor        *user
	Subject      *user
	OnBehalf     bool
	SessionID    *string
	Outcome      string
	ErrorCode    *string
	Operation    string
	Arguments    *string
	RequestID    string
	At           time.Time
	ActorLogin   string
	SubjectLogin string
}

func auditEvents(t *testing.T, env *apptest.Env, token string, filter map[string]any, first int) []eventView {
	t.Helper()
	var out struct {
		AuditEvents struct{ Edges []struct{ Node eventView } }
	}
	env.MustDo(token, `query($f:AuditEventFilter,$n:Int){ auditEvents(filter:$f, first:$n){ edges{ node{
		action actor{ id login } subject{ id login } onBehalf sessionId outcome errorCode operation arguments requestId at actorLogin subjectLogin } } } }`,
		map[string]any{"f": filter, "n": first}, &out)
	var evs []eventView
	for _, e := range out.AuditEvents.Edges {
		evs = append(evs, e.Node)
	}
	return evs
}

var demoLike = [][3]any{{"FAS-M8-40-100", "18.90", 100}, {"SAF-GLV-NIT-M", "12.90", 100}}

// confirmedOnBehalf opens the scoped session through the real flow: loginOnBehalf with the staff
// member's session, then confirmOnBehalf (anonymous, as the storefront window calls it) with the
// staff member's own credentials.
func confirmedOnBehalf(t *testing.T, env *apptest.Env, customer, staff *model.User, staffToken string) (string, *model.Session) {
	t.Helper()
	var ticket struct{ LoginOnBehalf struct{ Ticket string } }
	env.MustDo(staffToken, `mutation($u:ID!){ loginOnBehalf(userId:$u, reason:"ticket 4711"){ ticket } }`, map[string]any{"u": customer.ID}, &ticket)
	var confirmed struct {
		ConfirmOnBehalf struct {
			Token   string
			Session struct{ ID string }
		}
	}
	env.MustDo("", `mutation($t:String!,$l:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:$l, password:$p){ token session{ id } } }`,
		map[string]any{"t": ticket.LoginOnBehalf.Ticket, "l": staff.Login, "p": apptest.DefaultPassword}, &confirmed)
	return confirmed.ConfirmOnBehalf.Token, &model.Session{ID: confirmed.ConfirmOnBehalf.Session.ID}
}

// TestStorefrontOnBehalf is the "what it must show": in a login-on-behalf session the staff
// member fills the customer's cart by hand and from a CSV file, places the order (twice, with one
// key), pays it by invoice; everything lands in the customer's account, stamped with the staff
// member, and the audit trail names the staff member as actor and the customer as subject. The
// scoped session is opened directly and through loginOnBehalf/confirmOnBehalf.
func TestStorefrontOnBehalf(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T, *apptest.Env, *model.User, *model.User, string) (string, *model.Session){
		"session": onBehalfToken, "confirmOnBehalf": confirmedOnBehalf,
	} {
		t.Run(name, func(t *testing.T) { storefrontOnBehalf(t, open) })
	}
}

func storefrontOnBehalf(t *testing.T, open func(*testing.T, *apptest.Env, *model.User, *model.User, string) (string, *model.Session)) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, adminToken := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, adminToken, demoLike...)
		carla := env.CreateUser("carla.customer", []string{security.RoleCustomer}, nil)
		sam, samToken := env.UserWithToken("sam.support", security.RoleSupport)
		obToken, obSession := open(t, env, carla, sam, samToken)

		o, cart := shop(t, env, obToken)
		checkStamp(t, "order", o.stamped, carla, "sam.support", sam)
		checkStamp(t, "payment", o.Payments[0].stamped, carla, "sam.support", sam)
		checkStamp(t, "cart", cart, carla, "sam.support", sam)

		// The customer sees the order as their own.
		carlaToken := env.Login("carla.customer", apptest.DefaultPassword)
		var mine struct {
			Orders struct{ Edges []struct{ Node orderView } }
		}
		env.MustDo(carlaToken, `{ orders { edges { node { id `+stampFields+` } } } }`, nil, &mine)
		if len(mine.Orders.Edges) != 1 || mine.Orders.Edges[0].Node.ID != o.ID {
			t.Errorf("carla's orders: %+v", mine.Orders.Edges)
		}

		var evs []eventView
		for _, ev := range auditEvents(t, env, samToken, map[string]any{"onBehalf": true}, 50) {
			if !strings.HasPrefix(ev.Action, "onbehalf.") { // the session's own start, in the real flow
				evs = append(evs, ev)
			}
		}
		got := map[string]int{}
		for _, ev := range evs {
			got[ev.Action]++
			if ev.Actor == nil || ev.Actor.ID != sam.ID || ev.Subject == nil || ev.Subject.ID != carla.ID || !ev.OnBehalf ||
				ev.SessionID == nil || *ev.SessionID != obSession.ID || ev.Outcome != "SUCCESS" || ev.RequestID == "" {
				t.Errorf("event %s: actor %v subject %v onBehalf %v session %v outcome %s", ev.Action, ev.Actor, ev.Subject, ev.OnBehalf, ev.SessionID, ev.Outcome)
			}
		}
		want := map[string]int{"cart.add": 1, "cart.addFromFile": 1, "order.place": 2, "order.pay": 1}
		for a, n := range want {
			if got[a] != n {
				t.Errorf("on-behalf events %v, want %v", got, want)
				break
			}
		}
		if len(evs) != 5 {
			t.Errorf("%d on-behalf events, want 5: %v", len(evs), got)
		}
		// Newest first.
		if len(evs) > 0 && evs[0].Action != "order.pay" {
			t.Errorf("newest event is %s, want order.pay", evs[0].Action)
		}
		for _, secret := range []string{obToken, samToken, carlaToken} {
			if strings.Contains(env.Logs.String(), secret) {
				t.Error("a token reached the logs")
			}
			for _, ev := range env.AuditEvents() {
				if strings.Contains(ev.Arguments, secret) {
					t.Errorf("a token reached the audit row %s", ev.Action)
				}
			}
		}
	})
}

// TestStorefrontOwnSession: the same flow in the customer's own session has no operator, and the
// customer is both actor and subject.
func TestStorefrontOwnSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, adminToken := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, adminToken, demoLike...)
		carla, carlaToken := env.UserWithToken("carla.customer", security.RoleCustomer)

		o, cart := shop(t, env, carlaToken)
		checkStamp(t, "order", o.stamped, carla, "carla.customer", nil)
		checkStamp(t, "payment", o.Payments[0].stamped, carla, "carla.customer", nil)
		checkStamp(t, "cart", cart, carla, "carla.customer", nil)

		evs := auditEvents(t, env, adminToken, map[string]any{"subjectId": carla.ID, "onBehalf": false}, 50)
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.Action] = true
			if ev.Actor == nil || ev.Actor.ID != carla.ID || ev.Subject.ID != carla.ID || ev.OnBehalf {
				t.Errorf("event %s: actor %v subject %v onBehalf %v", ev.Action, ev.Actor, ev.Subject, ev.OnBehalf)
			}
		}
		for _, a := range []string{"cart.add", "cart.addFromFile", "order.place", "order.pay"} {
			if !seen[a] {
				t.Errorf("no %s event for carla's own session", a)
			}
		}
		if evs := auditEvents(t, env, adminToken, map[string]any{"subjectId": carla.ID, "onBehalf": true}, 50); len(evs) != 0 {
			t.Errorf("%d on-behalf events in carla's own flow", len(evs))
		}
	})
}

// TestFailedOrderLeavesNothing: placeOrder whose second line is out of stock rolls back the first
// line's reservation and everything else, and the failure is audited on its own.
func TestFailedOrderLeavesNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, adminToken := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, adminToken, [3]any{"FIRST-1", "5.00", 5}, [3]any{"SECOND-2", "7.00", 1})
		carla := env.CreateUser("carla.customer", []string{security.RoleCustomer}, nil)
		sam, samToken := env.UserWithToken("sam.support", security.RoleSupport)
		token, _ := onBehalfToken(t, env, carla, sam, samToken)
		env.MustDo(token, `mutation{ addToCart(sku:"FIRST-1", quantity:2){ id } }`, nil, nil)
		var before struct{ UpdateCartItem struct{ Version int } }
		env.MustDo(token, `mutation{ updateCartItem(sku:"SECOND-2", quantity:3){ version } }`, nil, &before)

		r := env.Do(token, `mutation{ placeOrder(idempotencyKey:"fails"){ id } }`, nil)
		if r.Code() != "CONFLICT" || !strings.Contains(r.Raw, "SECOND-2") {
			t.Fatalf("placeOrder: %s", r.Raw)
		}
		var n int64
		for _, m := range []any{&model.Order{}, &model.OrderItem{}, &model.Payment{}, &model.IdempotencyKey{}} {
			if db.Model(m).Count(&n); n != 0 {
				t.Errorf("%T: %d rows after the failed order", m, n)
			}
		}
		stock := map[string]int{}
		var ps []model.Product
		dbtest.Must(t, db.Find(&ps))
		for _, p := range ps {
			stock[p.SKU] = p.Stock
		}
		if stock["FIRST-1"] != 5 || stock["SECOND-2"] != 1 {
			t.Errorf("stock %v, want unchanged", stock)
		}
		var cart struct {
			Cart struct {
				Version int
				Items   []struct{ Quantity int }
			}
		}
		env.MustDo(token, `{ cart { version items { quantity } } }`, nil, &cart)
		if cart.Cart.Version != before.UpdateCartItem.Version || len(cart.Cart.Items) != 2 {
			t.Errorf("cart changed: %+v", cart.Cart)
		}
		fails := env.EventsWithAction("order.place")
		if len(fails) != 1 || fails[0].Outcome != "FAILURE" || fails[0].ErrorCode != "CONFLICT" || fails[0].Reason != "OUT_OF_STOCK" ||
			fails[0].ActorID == nil || *fails[0].ActorID != sam.ID || *fails[0].SubjectID != carla.ID || !fails[0].OnBehalf {
			t.Errorf("order.place events: %+v", fails)
		}
	})
}

// TestMultipartUpload: multipart requests need a preflight header (CSRF), the file size is limited,
// bad lines are reported while good ones are added, and XLSX works like CSV.
func TestMultipartUpload(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) { c.UploadMaxBytes = 8192 })
		_, adminToken := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, adminToken, [3]any{"A-1", "1.00", 10}, [3]any{"B-2", "2.00", 10})
		_, token := env.UserWithToken("carla.customer", security.RoleCustomer)
		good := []byte("A-1,1\n")

		r := upload(t, env, token, "x.csv", good, nil)
		if r.Status != http.StatusBadRequest || r.Code() != "BAD_USER_INPUT" {
			t.Errorf("multipart without preflight header: %d %s", r.Status, r.Raw)
		}
		if n := len(env.EventsWithAction("cart.addFromFile")); n != 0 {
			t.Errorf("refused upload reached the resolver (%d events)", n)
		}
		for _, h := range []map[string]string{preflight, {"Apollo-Require-Preflight": "true"}} {
			if r := upload(t, env, token, "x.csv", good, h); r.Status != http.StatusOK || r.Code() != "" {
				t.Errorf("with %v: %d %s", h, r.Status, r.Raw)
			}
		}
		if r := upload(t, env, "", "x.csv", good, preflight); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous upload: %s", r.Raw)
		}

		csv := "sku;quantity\nA-1;2\nNOPE-9;1\nB-2;zero\nB-2;0\n;4\nb-2;3\n"
		r = upload(t, env, token, "order.csv", []byte(csv), preflight)
		var res struct {
			AddToCartFromFile struct {
				Added  int
				Errors []struct {
					Line    int
					SKU     *string `json:"sku"`
					Message string
				}
				Cart struct {
					Items []struct {
						SKU      string `json:"sku"`
						Quantity int
					}
				}
			}
		}
		r.Decode(t, &res)
		b := res.AddToCartFromFile
		lines := []int{}
		for _, e := range b.Errors {
			lines = append(lines, e.Line)
		}
		if b.Added != 2 || fmt.Sprint(lines) != "[3 4 5 6]" || *b.Errors[0].SKU != "NOPE-9" || b.Errors[0].Message != "unknown sku" || b.Errors[3].SKU != nil {
			t.Errorf("bulk result: %s", r.Raw)
		}
		if fmt.Sprint(b.Cart.Items) != "[{A-1 4} {B-2 3}]" {
			t.Errorf("cart after upload: %v", b.Cart.Items)
		}

		xlsx, err := os.ReadFile("../testdata/sample-order.xlsx")
		if err != nil {
			t.Fatal(err)
		}
		r = upload(t, env, token, "sample-order.xlsx", xlsx, preflight)
		r.Decode(t, &res)
		if res.AddToCartFromFile.Added != 0 || len(res.AddToCartFromFile.Errors) != 10 {
			t.Errorf("xlsx sample against a catalog without its skus: %s", r.Raw)
		}

		big := bytes.Repeat([]byte("A-1,1\n"), 1400) // 8400 bytes > 8192
		if r := upload(t, env, token, "big.csv", big, preflight); r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Raw, "larger than 8192") {
			t.Errorf("oversized file: %s", r.Raw)
		}
		// Far over the limit: refused before GraphQL runs, still with an error code.
		huge := upload(t, env, token, "huge.csv", bytes.Repeat([]byte("A-1,1\n"), 30000), preflight)
		if huge.Status != http.StatusRequestEntityTooLarge || huge.Code() != "BAD_USER_INPUT" {
			t.Errorf("huge upload: %d %s", huge.Status, huge.Raw)
		}
		evs := env.EventsWithAction("cart.addFromFile")
		last := evs[len(evs)-1]
		if last.Outcome != "FAILURE" || last.ErrorCode != "BAD_USER_INPUT" || strings.Contains(last.Arguments, "A-1,1") {
			t.Errorf("oversized upload event: %+v", last)
		}
	})
}

// TestDemoSampleFile: the sample spreadsheet orders from the demo catalog in one go.
func TestDemoSampleFile(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		logins, err := demoLoad(env)
		if err != nil || len(logins) == 0 {
			t.Fatalf("demo load: %v", err)
		}
		var n int64
		dbtest.Must(t, db.Model(&model.Product{}).Count(&n))
		if n < 45 {
			t.Errorf("demo catalog has %d products", n)
		}
		_, token := env.UserWithToken("carla.customer", security.RoleCustomer)
		for _, f := range []string{"sample-order.csv", "sample-order.xlsx"} {
			data, err := os.ReadFile("../testdata/" + f)
			if err != nil {
				t.Fatal(err)
			}
			r := upload(t, env, token, f, data, preflight)
			if r.Code() != "" || !strings.Contains(r.Raw, `"added":10`) || !strings.Contains(r.Raw, `"errors":[]`) {
				t.Errorf("%s: %s", f, r.Raw)
			}
		}
		var c struct {
			Cart struct {
				Items []struct{ Quantity int }
				Total struct{ Amount string }
			}
		}
		env.MustDo(token, `{ cart { items { quantity } total { amount } } }`, nil, &c)
		if len(c.Cart.Items) != 10 || c.Cart.Items[0].Quantity != 8 {
			t.Errorf("cart after both samples: %+v", c.Cart)
		}
		var prods struct {
			Products struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						SKU string `json:"sku"`
					}
				}
			}
		}
		env.MustDo("", `{ products(search:"nitrile gloves") { totalCount edges { node { sku } } } }`, nil, &prods)
		if prods.Products.TotalCount != 2 {
			t.Errorf("anonymous catalog search for nitrile gloves: %+v", prods.Products)
		}
	})
}

// TestCardPaymentOverGraphQL: card numbers are refused and never stored or logged; payment tokens
// are redacted in the audit trail; a decline is returned as a DECLINED payment; a paid order cannot be
// paid again.
func TestCardPaymentOverGraphQL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, admin := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, admin, [3]any{"A-1", "12.00", 10})
		_, token := env.UserWithToken("carla.customer", security.RoleCustomer)
		env.MustDo(token, `mutation{ addToCart(sku:"A-1", quantity:1){ id } }`, nil, nil)
		var placed struct{ PlaceOrder struct{ ID string } }
		env.MustDo(token, `mutation{ placeOrder(idempotencyKey:"o-1"){ id } }`, nil, &placed)
		pay := `mutation($id:ID!,$k:String!,$tok:String){ payOrder(orderId:$id, idempotencyKey:$k, method:CARD, paymentToken:$tok){
			status declineCode reference amount{ amount } order{ status } } }`
		vars := func(key, tok string) map[string]any {
			return map[string]any{"id": placed.PlaceOrder.ID, "k": key, "tok": tok}
		}
		const pan = "4242 4242 4242 4242"
		if r := env.Do(token, pay, vars("p-1", pan)); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("card number: %s", r.Raw)
		}
		var declined struct {
			PayOrder struct {
				Status      string
				DeclineCode *string
				Order       struct{ Status string }
			}
		}
		env.MustDo(token, pay, vars("p-2", "tok_chargeDeclined"), &declined)
		if declined.PayOrder.Status != "DECLINED" || declined.PayOrder.DeclineCode == nil || declined.PayOrder.Order.Status != "PLACED" {
			t.Errorf("declined: %+v", declined.PayOrder)
		}
		env.MustDo(token, pay, vars("p-3", "tok_visa"), &declined)
		if declined.PayOrder.Status != "SUCCEEDED" || declined.PayOrder.Order.Status != "PAID" {
			t.Errorf("paid: %+v", declined.PayOrder)
		}
		if r := env.Do(token, pay, vars("p-4", "tok_visa")); r.Code() != "CONFLICT" {
			t.Errorf("paying a paid order: %s", r.Raw)
		}
		if r := env.Do(token, pay, vars("p-3", "tok_mastercard")); r.Code() != "CONFLICT" {
			t.Errorf("same key, other token: %s", r.Raw)
		}
		var rows []model.Payment
		dbtest.Must(t, db.Find(&rows))
		if len(rows) != 2 {
			t.Errorf("%d payment rows, want the declined and the successful one", len(rows))
		}
		for _, ev := range env.EventsWithAction("order.pay") {
			if !strings.Contains(ev.Arguments, `"paymentToken":"[REDACTED]"`) || strings.Contains(ev.Arguments, "tok_") {
				t.Errorf("order.pay arguments not redacted: %s", ev.Arguments)
			}
		}
		for _, s := range []string{pan, strings.ReplaceAll(pan, " ", ""), "tok_visa", "tok_chargeDeclined"} {
			if strings.Contains(env.Logs.String(), s) {
				t.Errorf("%q reached the logs", s)
			}
			for _, ev := range env.AuditEvents() {
				if strings.Contains(ev.Arguments+ev.Reason, s) {
					t.Errorf("%q reached the audit row %s", s, ev.Action)
				}
			}
		}
	})
}
