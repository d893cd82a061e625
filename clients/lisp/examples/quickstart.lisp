;;;; Log in to a `mciassrv dev` server as admin, create an account, list
;;;; accounts. Run from the repository root after
;;;; `cargo run --bin mciassrv -- dev`:
;;;;   sbcl --script clients/lisp/examples/quickstart.lisp

(require :asdf)
(asdf:initialize-source-registry
 `(:source-registry (:directory ,(merge-pathnames "../" (make-pathname :name nil :type nil
                                                                      :defaults *load-truename*)))
                    :inherit-configuration))
(handler-bind ((warning #'muffle-warning))
  (asdf:load-system "mcias-client"))

(defpackage #:quickstart (:use #:cl #:mcias-client))
(in-package #:quickstart)

(let ((client (make-client "localhost:8443" :ca-cert "mcias-dev/tls/ca.pem")))
  (format t "health: ~a~%" (health client))
  (login client "admin" (string-trim '(#\Newline #\Space)
                                     (uiop:read-file-string "mcias-dev/admin-password")))
  (format t "logged in; roles: ~a~%"
          (gethash "roles" (gethash "claims" (validate client (client-token client)))))
  (handler-case
      (let ((account (create-account client "quickstart-lisp" :account-type :human
                                                              :password "a long enough password")))
        (format t "created ~a ~a~%" (gethash "username" account) (gethash "id" account)))
    (mcias-already-exists (e)
      (format t "quickstart-lisp exists already: ~a~%" (mcias-error-message e))))
  (dolist (account (list-accounts client))
    (format t "account: ~a~%" (gethash "username" account)))
  (logout client))
