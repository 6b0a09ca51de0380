package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tusgo/tus"
)

// The protocol errors S3 faults become: 503 with Retry-After, so clients
// retry later. Every S3 call's error goes through classify, here only.
var (
	errStorageTimeout     = tus.ErrUnavailable.WithMessage("the storage did not answer in time; try again later")
	errStorageUnreachable = tus.ErrUnavailable.WithMessage("the storage cannot be reached; try again later")
	errStorageBusy        = tus.ErrUnavailable.WithMessage("the storage is busy; try again later")
)

// timeoutError is the cause of a call canceled by its time limit.
type timeoutError struct {
	op    string
	limit time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("s3store: %s got no answer within %v", e.op, e.limit)
}

// classify returns the error of a call of op, the one place where S3
// faults become protocol errors: a call its time limit ended (fired),
// a service that cannot be reached (connection refused or reset, no
// answer) and throttling that outlasted the SDK's retries (SlowDown, 503,
// 429, RequestLimitExceeded, ThrottlingException, ...) wrap
// tus.ErrUnavailable; anything else, and any error once ctx (the caller's)
// has ended, is returned as it is.
func classify(ctx context.Context, op string, err error, fired *timeoutError) error {
	switch {
	case err == nil:
		return nil
	case fired != nil:
		return fmt.Errorf("%w: %w (%w)", errStorageTimeout, fired, err)
	case ctx.Err() != nil:
		return err
	case isThrottled(err):
		return fmt.Errorf("%w: s3store: %s throttled: %w", errStorageBusy, op, err)
	case isUnreachable(err):
		return fmt.Errorf("%w: s3store: %s: %w", errStorageUnreachable, op, err)
	}
	return err
}

// isThrottled reports whether the service refused for load.
func isThrottled(err error) bool {
	switch errorCode(err) {
	case "SlowDown", "ServiceUnavailable", "RequestLimitExceeded", "ThrottlingException",
		"Throttling", "ThrottledException", "TooManyRequests", "TooManyRequestsException",
		"RequestThrottled", "RequestThrottledException", "ProvisionedThroughputExceededException",
		"EC2ThrottledException", "BandwidthLimitExceeded", "TransactionInProgressException", "PriorRequestNotComplete":
		return true
	}
	switch httpStatus(err) {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return true
	}
	return false
}

// isUnreachable reports whether err says no answer came from the service:
// the request could not be sent or the connection broke.
func isUnreachable(err error) bool {
	var se *smithyhttp.RequestSendError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// errorCode returns the S3 error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the S3 response that failed, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound reports whether err says the key does not exist. HeadObject
// answers without a body, so its error has the code "NotFound".
func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	}
	return false
}

// isNoSuchUpload reports whether err says the multipart upload does not
// exist (completed or aborted). The SDK does not model this error for every
// operation, so the code is compared.
func isNoSuchUpload(err error) bool {
	return errorCode(err) == "NoSuchUpload"
}

// isNotImplemented reports whether the service does not have the operation.
func isNotImplemented(err error) bool {
	switch errorCode(err) {
	case "NotImplemented", "XNotImplemented":
		return true
	}
	return httpStatus(err) == http.StatusNotImplemented
}

// isPreconditionFailed reports whether a conditional request failed because
// of its condition (or, on AWS, a concurrent conditional write).
func isPreconditionFailed(err error) bool {
	switch errorCode(err) {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}
