package s3store

import (
	"errors"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

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
