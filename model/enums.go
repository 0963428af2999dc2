package model

import (
	"fmt"
	"io"
	"strconv"
)

// The schema's enums, bound to these Go types (gqlgen.yml): a value outside the enum cannot be
// stored or returned by mistake, and the compiler tells an order status from a payment status.

// AuditOutcome is whether an audited operation succeeded.
type AuditOutcome string

// Audit outcomes.
const (
	AuditSuccess AuditOutcome = "SUCCESS"
	AuditFailure AuditOutcome = "FAILURE"
)

// OrderStatus is where an order stands.
type OrderStatus string

// Order statuses.
const (
	OrderPlaced          OrderStatus = "PLACED"
	OrderAwaitingPayment OrderStatus = "AWAITING_PAYMENT"
	OrderPaid            OrderStatus = "PAID"
	OrderCancelled       OrderStatus = "CANCELLED"
)

// PaymentMethod is how an order is paid.
type PaymentMethod string

// Payment methods.
const (
	PaymentInvoice PaymentMethod = "INVOICE"
	PaymentCard    PaymentMethod = "CARD"
)

// PaymentStatus is the result of a payment attempt.
type PaymentStatus string

// Payment statuses.
const (
	PaymentPending   PaymentStatus = "PENDING"
	PaymentSucceeded PaymentStatus = "SUCCEEDED"
	PaymentDeclined  PaymentStatus = "DECLINED"
)

func unmarshalEnum[T ~string](v any, name string, valid ...T) (T, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", name)
	}
	for _, x := range valid {
		if T(s) == x {
			return x, nil
		}
	}
	return "", fmt.Errorf("%q is not a valid %s", s, name)
}

func marshalEnum(w io.Writer, s string) { _, _ = io.WriteString(w, strconv.Quote(s)) }

// MarshalGQL writes the enum value.
func (e AuditOutcome) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL reads the enum value.
func (e *AuditOutcome) UnmarshalGQL(v any) (err error) {
	*e, err = unmarshalEnum(v, "AuditOutcome", AuditSuccess, AuditFailure)
	return err
}

// MarshalGQL writes the enum value.
func (e OrderStatus) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL reads the enum value.
func (e *OrderStatus) UnmarshalGQL(v any) (err error) {
	*e, err = unmarshalEnum(v, "OrderStatus", OrderPlaced, OrderAwaitingPayment, OrderPaid, OrderCancelled)
	return err
}

// MarshalGQL writes the enum value.
func (e PaymentMethod) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL reads the enum value.
func (e *PaymentMethod) UnmarshalGQL(v any) (err error) {
	*e, err = unmarshalEnum(v, "PaymentMethod", PaymentInvoice, PaymentCard)
	return err
}

// MarshalGQL writes the enum value.
func (e PaymentStatus) MarshalGQL(w io.Writer) { marshalEnum(w, string(e)) }

// UnmarshalGQL reads the enum value.
func (e *PaymentStatus) UnmarshalGQL(v any) (err error) {
	*e, err = unmarshalEnum(v, "PaymentStatus", PaymentPending, PaymentSucceeded, PaymentDeclined)
	return err
}
