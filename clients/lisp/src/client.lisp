;;;; The MCIAS client: one CLIENT object, one function per API call, over
;;;; REST/JSON (the server transcodes it from the same protos as gRPC).
;;;; Responses are YASON hash tables keyed by the proto3 JSON (lowerCamelCase)
;;;; field names; failures signal a subclass of MCIAS-ERROR.

(defpackage #:mcias-client
  (:use #:cl)
  (:export
   ;; client
   #:client #:make-client #:client-server #:client-token
   ;; calls
   #:login #:logout #:renew #:validate #:public-keys #:health
   #:create-account #:list-accounts #:get-account #:update-account
   #:delete-account #:get-roles #:set-roles #:issue-service-token
   #:revoke-token #:get-pg-creds #:set-pg-creds #:list-audit-events
   ;; conditions
   #:mcias-error #:mcias-error-code #:mcias-error-message #:mcias-error-http-status
   #:mcias-unauthenticated #:mcias-forbidden #:mcias-not-found
   #:mcias-invalid-argument #:mcias-already-exists #:mcias-rate-limited
   #:mcias-unavailable #:mcias-server-error))

(in-package #:mcias-client)

;;; Conditions

(define-condition mcias-error (error)
  ((code :initarg :code :reader mcias-error-code
         :documentation "The gRPC code name, e.g. \"ALREADY_EXISTS\".")
   (message :initarg :message :reader mcias-error-message
            :documentation "The server's message.")
   (http-status :initarg :http-status :initform nil :reader mcias-error-http-status))
  (:report (lambda (c s)
             (format s "MCIAS ~a: ~a" (mcias-error-code c) (mcias-error-message c))))
  (:documentation "Every failed call signals a subclass of this."))

(define-condition mcias-unauthenticated (mcias-error) ()
  (:documentation "No token, an invalid or revoked token, or a failed login."))
(define-condition mcias-forbidden (mcias-error) ()
  (:documentation "The token lacks the permission the call requires (PERMISSION_DENIED)."))
(define-condition mcias-not-found (mcias-error) ()
  (:documentation "The named account, token or credentials do not exist."))
(define-condition mcias-invalid-argument (mcias-error) ()
  (:documentation "The request was refused as malformed."))
(define-condition mcias-already-exists (mcias-error) ()
  (:documentation "The account (username) already exists."))
(define-condition mcias-rate-limited (mcias-error) ()
  (:documentation "Too many requests (RESOURCE_EXHAUSTED, HTTP 429)."))
(define-condition mcias-unavailable (mcias-error) ()
  (:documentation "The server cannot be reached or is shutting down."))
(define-condition mcias-server-error (mcias-error) ()
  (:documentation "Any other failure (FAILED_PRECONDITION, INTERNAL, ...)."))

(defparameter *code-names*
  #("OK" "CANCELLED" "UNKNOWN" "INVALID_ARGUMENT" "DEADLINE_EXCEEDED" "NOT_FOUND"
    "ALREADY_EXISTS" "PERMISSION_DENIED" "RESOURCE_EXHAUSTED" "FAILED_PRECONDITION"
    "ABORTED" "OUT_OF_RANGE" "UNIMPLEMENTED" "INTERNAL" "UNAVAILABLE" "DATA_LOSS"
    "UNAUTHENTICATED"))

(defun code-name (code http-status)
  (cond ((and (integerp code) (< -1 code (length *code-names*))) (aref *code-names* code))
        ((stringp code) code)
        (t (case http-status
             (400 "INVALID_ARGUMENT") (401 "UNAUTHENTICATED") (403 "PERMISSION_DENIED")
             (404 "NOT_FOUND") (409 "ALREADY_EXISTS") (429 "RESOURCE_EXHAUSTED")
             (503 "UNAVAILABLE") (t "UNKNOWN")))))

(defun condition-class (code-name)
  (cond ((string= code-name "UNAUTHENTICATED") 'mcias-unauthenticated)
        ((string= code-name "PERMISSION_DENIED") 'mcias-forbidden)
        ((string= code-name "NOT_FOUND") 'mcias-not-found)
        ((string= code-name "INVALID_ARGUMENT") 'mcias-invalid-argument)
        ((string= code-name "ALREADY_EXISTS") 'mcias-already-exists)
        ((string= code-name "RESOURCE_EXHAUSTED") 'mcias-rate-limited)
        ((string= code-name "UNAVAILABLE") 'mcias-unavailable)
        (t 'mcias-server-error)))

;;; The client

(defclass client ()
  ((server :initarg :server :reader client-server
           :documentation "The base URL, e.g. \"https://localhost:8443\".")
   (ca-cert :initarg :ca-cert :initform nil
            :documentation "A PEM file to trust instead of the system roots.")
   (token :initarg :token :initform nil)
   (lock :initform (bt:make-lock "mcias-client token")))
  (:documentation "An MCIAS client. The held token may be read and replaced from any thread."))

(defun make-client (server &key ca-cert token)
  "A client for SERVER (\"host:port\" or \"https://host:port\"), trusting the
PEM CA certificate file CA-CERT (or the system roots), starting with TOKEN."
  (let ((base (string-right-trim "/" server)))
    (make-instance 'client
                   :server (if (or (eql 0 (search "https://" base)) (eql 0 (search "http://" base)))
                               base
                               (concatenate 'string "https://" base))
                   :ca-cert (and ca-cert (namestring ca-cert))
                   :token token)))

(defun client-token (client)
  "The token CLIENT currently sends, or NIL."
  (bt:with-lock-held ((slot-value client 'lock)) (slot-value client 'token)))

(defun (setf client-token) (token client)
  (bt:with-lock-held ((slot-value client 'lock)) (setf (slot-value client 'token) token)))

(defun obj (&rest kvs)
  "A JSON object (hash table) from alternating keys and values; NIL values are left out."
  (let ((h (make-hash-table :test 'equal)))
    (loop for (k v) on kvs by #'cddr
          unless (null v) do (setf (gethash k h) v))
    h))

(defun encode (value)
  (with-output-to-string (s) (yason:encode value s)))

(defun path-escape (s)
  (drakma:url-encode s :utf-8))

(defun query-string (params)
  (let ((pairs (loop for (k v) on params by #'cddr
                     when (and v (not (equal v "")) (not (eql v 0)))
                       collect (format nil "~a=~a" k (drakma:url-encode (princ-to-string v) :utf-8)))))
    (if pairs (format nil "?~{~a~^&~}" pairs) "")))

(defun request (client method path &key body query)
  "Performs one call and returns the decoded JSON object (a hash table)."
  (let* ((url (concatenate 'string (client-server client) path (query-string query)))
         (token (client-token client))
         (headers (when token `(("Authorization" . ,(concatenate 'string "Bearer " token)))))
         (ca (slot-value client 'ca-cert)))
    (multiple-value-bind (raw status)
        (handler-case
            (apply #'drakma:http-request url
                   :method method
                   :accept "application/json"
                   :additional-headers headers
                   :verify :required
                   :external-format-out :utf-8
                   (append (when body (list :content (encode body) :content-type "application/json"))
                           (when ca (list :ca-file ca))))
          (mcias-error (c) (error c))
          (error (e)
            (error 'mcias-unavailable :code "UNAVAILABLE" :message (princ-to-string e))))
      (let* ((text (cond ((null raw) "")
                         ((stringp raw) raw)
                         (t (flexi-streams:octets-to-string raw :external-format :utf-8))))
             (json (if (string= (string-trim " 	
" text) "")
                       (make-hash-table :test 'equal)
                       (handler-case (yason:parse text)
                         (error () (obj "message" text))))))
        (if (<= 200 status 299)
            json
            (let* ((code (code-name (and (hash-table-p json) (gethash "code" json)) status))
                   (message (or (and (hash-table-p json) (gethash "message" json)) text)))
              (error (condition-class code) :code code :message message :http-status status)))))))

(defun field (json &rest keys)
  (loop for k in keys
        do (setf json (and (hash-table-p json) (gethash k json))))
  json)

;;; Authentication

(defun login (client username password &optional (totp-code ""))
  "Exchanges credentials for a token, which CLIENT then holds. Returns the
response object (\"token\", \"expiresAt\")."
  (let ((res (request client :post "/v1/auth/login"
                      :body (obj "username" username "password" password "totpCode" totp-code))))
    (setf (client-token client) (field res "token"))
    res))

(defun logout (client)
  "Revokes the held token and forgets it."
  (request client :post "/v1/auth/logout" :body (obj))
  (setf (client-token client) nil)
  t)

(defun renew (client)
  "Replaces the held token with a fresh one; the old one is revoked."
  (let ((res (request client :post "/v1/auth/renew" :body (obj))))
    (setf (client-token client) (field res "token"))
    res))

;;; Tokens

(defun validate (client token)
  "Checks any token: an object with \"valid\" and, when valid, \"claims\"."
  (request client :post "/v1/tokens/validate" :body (obj "token" token)))

(defun public-keys (client)
  "The list of JWKs (hash tables) that verify tokens."
  (field (request client :get "/v1/keys") "keys"))

(defun issue-service-token (client account-id)
  "Issues a token for a system account (admin); CLIENT keeps its own."
  (request client :post (format nil "/v1/accounts/~a/service-token" (path-escape account-id))
           :body (obj)))

(defun revoke-token (client jti &optional (reason ""))
  "Revokes a token by its jti (admin)."
  (request client :post (format nil "/v1/tokens/~a/revoke" (path-escape jti))
           :body (obj "reason" reason))
  t)

;;; Admin service

(defun health (client)
  "The server's status string, \"SERVING\" when it can serve."
  (field (request client :get "/v1/health") "status"))

(defun list-audit-events (client &key account-id event-type since (page-size 0))
  "Every matching audit event, newest first, fetched page by page (admin).
SINCE is an RFC 3339 timestamp string."
  (loop with page-token = nil
        for res = (request client :get "/v1/audit/events"
                           :query (list "accountId" account-id "eventType" event-type
                                        "since" since "pageSize" page-size
                                        "pageToken" page-token))
        append (field res "events")
        do (setf page-token (field res "nextPageToken"))
        while (and page-token (string/= page-token ""))))

;;; Accounts

(defun enum-name (prefix value)
  (let ((v (string-upcase (string value))))
    (if (eql 0 (search prefix v)) v (concatenate 'string prefix v))))

(defun create-account (client username &key (account-type :human) (password ""))
  "Creates an account (admin). ACCOUNT-TYPE is :HUMAN or :SYSTEM; system
accounts take no password. Returns the account object."
  (field (request client :post "/v1/accounts"
                  :body (obj "username" username
                             "accountType" (enum-name "ACCOUNT_TYPE_" account-type)
                             "password" password))
         "account"))

(defun list-accounts (client &key (page-size 0))
  "Every account that is not deleted, fetched page by page (admin)."
  (loop with page-token = nil
        for res = (request client :get "/v1/accounts"
                           :query (list "pageSize" page-size "pageToken" page-token))
        append (field res "accounts")
        do (setf page-token (field res "nextPageToken"))
        while (and page-token (string/= page-token ""))))

(defun get-account (client id)
  "One account, deleted ones included (admin)."
  (field (request client :get (format nil "/v1/accounts/~a" (path-escape id))) "account"))

(defun update-account (client id status)
  "Sets an account's STATUS (:active, :inactive or :suspended) (admin)."
  (field (request client :patch (format nil "/v1/accounts/~a" (path-escape id))
                  :body (obj "status" (enum-name "ACCOUNT_STATUS_" status)
                             "updateMask" "status"))
         "account"))

(defun delete-account (client id)
  "Soft-deletes an account and revokes its tokens (admin)."
  (request client :delete (format nil "/v1/accounts/~a" (path-escape id)))
  t)

(defun get-roles (client account-id)
  "An account's roles, sorted (admin)."
  (field (request client :get (format nil "/v1/accounts/~a/roles" (path-escape account-id)))
         "roles"))

(defun set-roles (client account-id roles)
  "Replaces an account's roles; returns them sorted (admin)."
  (field (request client :put (format nil "/v1/accounts/~a/roles" (path-escape account-id))
                  :body (obj "roles" (coerce roles 'vector)))
         "roles"))

(defun get-pg-creds (client account-id)
  "Stored PostgreSQL credentials, password included (self or admin)."
  (field (request client :get (format nil "/v1/accounts/~a/pgcreds" (path-escape account-id)))
         "creds"))

(defun set-pg-creds (client account-id &key host port database username password)
  "Stores PostgreSQL credentials for an account (self or admin)."
  (request client :put (format nil "/v1/accounts/~a/pgcreds" (path-escape account-id))
           :body (obj "host" host "port" port "database" database
                      "username" username "password" password))
  t)
