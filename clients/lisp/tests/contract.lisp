;;;; The Lisp client against a real `mciassrv dev` (clients/testdata/with-server.sh):
;;;; runs clients/testdata/contract.json with FiveAM.

(defpackage #:mcias-client/tests
  (:use #:cl #:mcias-client)
  (:export #:run-all))

(in-package #:mcias-client/tests)

(fiveam:def-suite mcias-client :description "MCIAS client against a real server")
(fiveam:in-suite mcias-client)

(defun env (name)
  (let ((v (uiop:getenv name)))
    (when (or (null v) (string= v ""))
      (error "~a is not set: run the tests through clients/testdata/with-server.sh" name))
    v))

(defun h (&rest kvs)
  (let ((table (make-hash-table :test 'equal)))
    (loop for (k v) on kvs by #'cddr do (setf (gethash k table) v))
    table))

(defun get* (table key &optional default)
  (multiple-value-bind (v found) (gethash key table)
    (if found v default)))

(defun subst-vars (value vars)
  (cond ((stringp value)
         (with-output-to-string (out)
           (loop with i = 0
                 for start = (search "${" value :start2 i)
                 while start
                 do (let ((end (position #\} value :start start)))
                      (write-string value out :start i :end start)
                      (let ((v (gethash (subseq value (+ start 2) end) vars)))
                        (format out "~a" v))
                      (setf i (1+ end)))
                 finally (write-string value out :start i))))
        ((hash-table-p value)
         (let ((copy (make-hash-table :test 'equal)))
           (maphash (lambda (k v) (setf (gethash k copy) (subst-vars v vars))) value)
           copy))
        ((consp value) (mapcar (lambda (v) (subst-vars v vars)) value))
        (t value)))

(defun strip (prefix s)
  (if (and (stringp s) (eql 0 (search prefix s))) (subseq s (length prefix)) (or s "")))

(defun account (a)
  (h "id" (get* a "id" "") "username" (get* a "username" "")
     "account_type" (strip "ACCOUNT_TYPE_" (get* a "accountType" ""))
     "status" (strip "ACCOUNT_STATUS_" (get* a "status" ""))
     "totp_enabled" (get* a "totpEnabled" nil)))

(defun arg (args key &optional (default ""))
  (get* args key default))

(defun call (c name args)
  "Runs one contract call and returns its normalized result."
  (flet ((s (k) (arg args k)))
    (cond
      ((string= name "health") (h "status" (health c)))
      ((string= name "public_keys") (h "kids" (mapcar (lambda (k) (gethash "kid" k)) (public-keys c))))
      ((string= name "login") (h "token" (gethash "token" (login c (s "username") (s "password") (s "totp_code")))))
      ((string= name "logout") (logout c) (h))
      ((string= name "renew") (h "token" (gethash "token" (renew c))))
      ((string= name "validate")
       (let* ((r (validate c (s "token")))
              (cl (get* r "claims" (h))))
         (h "valid" (get* r "valid" nil) "subject" (get* cl "subject" "") "roles" (get* cl "roles" nil)
            "jti" (get* cl "jti" "") "token_type" (get* cl "tokenType" ""))))
      ((string= name "create_account")
       (account (create-account c (s "username") :account-type (s "account_type") :password (s "password"))))
      ((string= name "get_account") (account (get-account c (s "id"))))
      ((string= name "update_account") (account (update-account c (s "id") (s "status"))))
      ((string= name "delete_account") (delete-account c (s "id")) (h))
      ((string= name "list_accounts")
       (h "usernames" (mapcar (lambda (a) (gethash "username" a))
                              (list-accounts c :page-size (arg args "page_size" 0)))))
      ((string= name "get_roles") (h "roles" (get-roles c (s "account_id"))))
      ((string= name "set_roles") (h "roles" (set-roles c (s "account_id") (arg args "roles" nil))))
      ((string= name "issue_service_token") (h "token" (gethash "token" (issue-service-token c (s "account_id")))))
      ((string= name "revoke_token") (revoke-token c (s "jti") (s "reason")) (h))
      ((string= name "get_pg_creds")
       (let ((p (get-pg-creds c (s "account_id"))))
         (h "host" (get* p "host" "") "port" (get* p "port" 0) "database" (get* p "database" "")
            "username" (get* p "username" "") "password" (get* p "password" ""))))
      ((string= name "set_pg_creds")
       (set-pg-creds c (s "account_id") :host (s "host") :port (arg args "port" 0) :database (s "database")
                                         :username (s "username") :password (s "password"))
       (h))
      ((string= name "list_audit_events")
       (h "event_types" (mapcar (lambda (e) (gethash "eventType" e))
                                (list-audit-events c :account-id (s "account_id") :event-type (s "event_type")))))
      (t (error "unknown call ~a" name)))))

(defun as-list (v) (if (listp v) v (list v)))

(defun empty-p (v)
  (or (null v) (and (stringp v) (string= v ""))))

(defun random-suffix ()
  (let ((state (make-random-state t)))
    (format nil "~(~8,'0x~)" (random #xffffffff state))))

(fiveam:test contract
  (let* ((server (env "MCIAS_SERVER")) (ca (env "MCIAS_CA_CERT"))
         (spec (with-open-file (in (env "MCIAS_CONTRACT") :external-format :utf-8)
                 (yason:parse in)))
         (clients (make-hash-table :test 'equal))
         (vars (h "admin_password" (env "MCIAS_ADMIN_PASSWORD") "run" (random-suffix)))
         (steps (gethash "steps" spec)))
    (fiveam:is (> (length steps) 10))
    (dolist (name (gethash "clients" spec))
      (setf (gethash name clients) (make-client server :ca-cert ca)))
    (loop for step in steps
          for i from 1
          for label = (format nil "step ~d ~s (~a)" i (gethash "name" step) (gethash "call" step))
          for expect = (gethash "expect" step)
          for args = (subst-vars (gethash "args" step) vars)
          do (let (res err)
               (handler-case
                   (setf res (call (gethash (gethash "client" step) clients) (gethash "call" step) args))
                 (mcias-error (e) (setf err e)))
               (multiple-value-bind (want has-error) (gethash "error" expect)
                 (cond
                   (has-error
                    (fiveam:is (typep err 'mcias-error) "~a: want ~a, the call succeeded" label want)
                    (when err
                      (fiveam:is (string= want (mcias-error-code err)) "~a: want ~a, got ~a (~a)"
                                 label want (mcias-error-code err) (mcias-error-message err))
                      (fiveam:is (not (empty-p (mcias-error-message err))) "~a: no message" label)))
                   (err (fiveam:fail "~a: ~a" label err))
                   (t
                    (maphash (lambda (k want)
                               (fiveam:is (equal want (gethash k res)) "~a: ~a = ~s, want ~s"
                                          label k (gethash k res) want))
                             (subst-vars (get* expect "result" (h)) vars))
                    (maphash (lambda (k want)
                               (dolist (w (as-list want))
                                 (fiveam:is (member w (gethash k res) :test #'equal) "~a: ~a = ~s lacks ~s"
                                            label k (gethash k res) w)))
                             (subst-vars (get* expect "contains" (h)) vars))
                    (maphash (lambda (k want)
                               (dolist (w (as-list want))
                                 (fiveam:is (not (member w (gethash k res) :test #'equal)) "~a: ~a = ~s has ~s"
                                            label k (gethash k res) w)))
                             (subst-vars (get* expect "excludes" (h)) vars))
                    (dolist (k (get* expect "nonempty" nil))
                      (fiveam:is (not (empty-p (gethash k res))) "~a: ~a is empty" label k))
                    (let ((save (get* step "save" nil)))
                      (when save
                        (maphash (lambda (var field) (setf (gethash var vars) (gethash field res))) save))))))))))

(fiveam:test conditions
  (let ((c (make-client (env "MCIAS_SERVER") :ca-cert (env "MCIAS_CA_CERT"))))
    (fiveam:signals mcias-unauthenticated (login c "admin" "wrong password"))
    (fiveam:signals mcias-unauthenticated (list-accounts c))
    (handler-case (progn (login c "admin" "wrong password") (fiveam:fail "login succeeded"))
      (mcias-error (e)
        (fiveam:is (string= "UNAUTHENTICATED" (mcias-error-code e)))
        (fiveam:is (eql 401 (mcias-error-http-status e)))))
    (login c "admin" (env "MCIAS_ADMIN_PASSWORD"))
    (fiveam:is (stringp (client-token c)))
    (fiveam:signals mcias-not-found (get-account c "00000000-0000-4000-8000-000000000000"))
    (logout c)
    (fiveam:is (null (client-token c)))))

(defun run-all ()
  "Runs the suite; returns true when every check passed."
  (let* ((results (fiveam:run 'mcias-client))
         (passed (count-if (lambda (r) (typep r 'fiveam::test-passed)) results))
         (failed (count-if (lambda (r) (typep r 'fiveam::test-failure)) results)))
    (fiveam:explain! results)
    (format t "~&~d passed, ~d failed~%" passed failed)
    (and (plusp passed) (zerop failed))))
