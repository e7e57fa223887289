! bucket_main.f90 -- the bucket model as a stand-alone program, the way legacy models are
! usually run: read an input file, write an output file.
!
!   bucket_model INPUT OUTPUT
!
! INPUT (terragrad black-box text format, version 1; whitespace-separated numbers):
!   tg_blackbox_input 1
!   T nf np nout
!   p(1) ... p(np)
!   T lines of nf forcing values (P T PET)
! OUTPUT:
!   tg_blackbox_output 1
!   T nout
!   T lines of nout values (Q SM SWE GW), 17 significant digits
! Exit status: 0 ok; 2 bad command line; 3 unreadable input; 4 unwritable output;
! 10 + the model's error code (11 sizes, 12 parameters, 13 forcing).
program bucket_model
  use bucket_core, only: dp, bucket_run
  implicit none
  character(len=4096) :: fin, fout
  character(len=64) :: magic
  integer :: version, nt, nf, np, nout, t, ios, uin, uout, ierr
  real(dp), allocatable :: forcing(:,:), params(:), out(:,:)

  if (command_argument_count() /= 2) then
    write(0, '(a)') 'usage: bucket_model INPUT OUTPUT'
    stop 2, quiet=.true.
  end if
  call get_command_argument(1, fin)
  call get_command_argument(2, fout)

  open(newunit=uin, file=trim(fin), status='old', action='read', iostat=ios)
  if (ios /= 0) call fail('cannot open input file '//trim(fin), 3)
  read(uin, *, iostat=ios) magic, version
  if (ios /= 0 .or. trim(magic) /= 'tg_blackbox_input' .or. version /= 1) &
    call fail('input is not a tg_blackbox_input version 1 file', 3)
  read(uin, *, iostat=ios) nt, nf, np, nout
  if (ios /= 0 .or. nt < 1 .or. nf < 1 .or. np < 1 .or. nout < 1) &
    call fail('bad sizes line in the input file', 3)
  allocate(forcing(nf, nt), params(np), out(nout, nt))
  read(uin, *, iostat=ios) params
  if (ios /= 0) call fail('cannot read the parameter line', 3)
  do t = 1, nt
    read(uin, *, iostat=ios) forcing(:, t)
    if (ios /= 0) call fail('cannot read a forcing line', 3)
  end do
  close(uin)

  call bucket_run(nt, nf, forcing, np, params, nout, out, ierr)
  if (ierr /= 0) then
    write(0, '(a,i0)') 'bucket_model: model error ', ierr
    stop 10 + ierr, quiet=.true.
  end if

  open(newunit=uout, file=trim(fout), status='replace', action='write', iostat=ios)
  if (ios /= 0) call fail('cannot open output file '//trim(fout), 4)
  write(uout, '(a)') 'tg_blackbox_output 1'
  write(uout, '(i0,1x,i0)') nt, nout
  do t = 1, nt
    write(uout, '(*(es25.16e3,:,1x))') out(:, t)
  end do
  close(uout)

contains

  subroutine fail(msg, code)
    character(len=*), intent(in) :: msg
    integer, intent(in) :: code
    write(0, '(a)') 'bucket_model: '//msg
    stop code, quiet=.true.
  end subroutine fail

end program bucket_model
